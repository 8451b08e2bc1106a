"""The published action plan: rows with their state, three formats, the picture, a real browser."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from playbooks import load_action_plan, load_playbook
from sync.cli.main import cli
from sync.core.config import load_config
from sync.reports.chart import StepBar, cumulative, progress_chart
from sync.reports.report import (
    Report,
    render_csv,
    render_html,
    render_markdown,
    report_chart,
    report_from_store,
)
from sync.state.store import StateStore
from tests.support.alliance import example_config
from tests.support.minutes import MINUTES_YAML

TODAY = dt.date(2027, 10, 1)
PNG = b"\x89PNG\r\n\x1a\n"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def make_report(tmp_path: Path, language: str = "en") -> Report:
    """The example alliance with a done task, an agreed action and a card a member added."""
    config = load_config(example_config(tmp_path))
    if language != "en":
        config = config.model_copy(update={"alliance": config.alliance.model_copy(
            update={"language": language})})
    book = load_playbook(language)
    rows = list(load_action_plan(config.resolve_path(str(config.action_plan)), book,
                                 config.people).rows)
    with StateStore.open(tmp_path / "state.db") as store:
        task = store.ensure_item(key="task:scope.define-region", number="FRL-1", kind="task",
                                 title="Define the region", status="done", source="playbook",
                                 step="scope", owner="bram.visser@example.org", due="2027-01-25")
        store.add_audit(task.id, "bram", "trello", "status", "doing", "done",
                        at="2027-02-03T10:00:00+00:00")
        store.ensure_item(key="minutes:gap-workshop:1", number="FRL-50", kind="action",
                          title="Publish the <research> summary", status="todo", source="file",
                          step="research", owner="daan.bakker@example.org", due="2027-07-01")
        store.ensure_item(key="trello:abc", number="FRL-51", kind="action",
                          title="Card without a step", status="doing", source="trello")
        return report_from_store(config, book, rows, store, TODAY)


# --------------------------------------------------------------------------- the table


def test_rows_carry_the_state(tmp_path: Path) -> None:
    report = make_report(tmp_path)
    assert [g.key for g in report.groups] == [
        "scope", "start", "research", "publish", "promote", "sustain", ""]
    first = report.groups[0].rows[0]
    assert (first.cells["number"], first.cells["status"], first.cells["responsible"]) == (
        "FRL-1", "Done", "Bram Visser (example)")
    assert first.done_on == dt.date(2027, 2, 3)  # from the audit trail, not the due date
    agreed = report.groups[2].rows[-1]
    assert agreed.cells["number"] == "FRL-50"
    assert agreed.cells["description"] == "Agreed at plenary meeting 2 (7 June 2027)."
    assert agreed.cells["due"] == "1 July 2027" and agreed.csv["due"] == "2027-07-01"
    assert [r.cells["action"] for r in report.groups[-1].rows] == ["Card without a step"]
    assert (report.groups[0].done, len(report.groups[0].live), report.groups[0].percent) == \
        (1, 6, 17)


def test_markdown_report(tmp_path: Path) -> None:
    text = render_markdown(make_report(tmp_path), chart_path="progress.png")
    assert text.startswith("# Regional alliance action plan: Friesland Newcomer Mediation")
    assert "Status on 1 October 2027." in text
    assert "![Progress of the action plan" in text and "(progress.png)" in text
    assert "- Scope of the alliance: 1 of 6 done (17%)" in text
    assert "## Step 3: Research and mapping" in text
    assert "| FRL-1 | Define the region |" in text
    assert "## Step 7: Other actions" in text
    assert "**Estimated budget of the alliance's own actions in total:**" in text


def test_markdown_report_escapes_what_members_wrote(tmp_path: Path) -> None:
    """Raw HTML and links in a member's title stay text, as the HTML report's autoescape keeps
    them (issue 25): no tag, no javascript: link a Markdown viewer would make live."""
    report = make_report(tmp_path)
    row = report.groups[-1].rows[0]
    row.cells["action"] = ("[Minutes](javascript:alert(1)) <img src=x onerror=alert(1)> "
                           "![x](https://evil.example/t.png) R&D")
    text = render_markdown(report)
    assert "Publish the &lt;research&gt; summary" in text and "<research>" not in text
    line = next(line for line in text.splitlines() if "onerror" in line)
    assert "<img" not in line and "&lt;img src=x onerror=alert(1)&gt;" in line
    assert "](javascript:" not in line and "&#91;Minutes&#93;(javascript:alert(1))" in line
    assert "![x](" not in line and "R&amp;D" in line


def test_csv_report_in_dutch(tmp_path: Path) -> None:
    report = make_report(tmp_path, "nl")
    table = list(csv.reader(io.StringIO(render_csv(report))))
    assert table[0][:3] == ["Stap", "Nummer", "Te ondernemen actie"]
    assert len(table) == 1 + len(report.rows)
    assert table[1][0] == "1. Reikwijdte van de alliantie" and table[1][1] == "FRL-1"
    assert table[1][-2:] == ["Klaar", "2027-01-25"]


def test_html_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    report = make_report(tmp_path)
    html = render_html(report, report_chart(report))
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert 'src="data:image/png;base64,iVBORw0KGgo' in html
    assert "Publish the &lt;research&gt; summary" in html and "<research>" not in html
    assert '<td class="status-done">Done</td>' in html
    assert "<script" not in html


# --------------------------------------------------------------------------- the picture


def test_cumulative_counts_per_date() -> None:
    days = [dt.date(2027, 1, 3), dt.date(2027, 1, 1), dt.date(2027, 1, 3)]
    assert cumulative(days) == ([dt.date(2027, 1, 1), dt.date(2027, 1, 3)], [1, 3])
    assert cumulative([]) == ([], [])


def test_chart_png_and_svg() -> None:
    bars = [StepBar("Scope of the alliance", 1, 6), StepBar("A very long step title, cut", 0, 0)]
    planned = [dt.date(2027, 1, 25), dt.date(2027, 3, 1)]
    png = progress_chart(bars, planned, [dt.date(2027, 2, 3)], TODAY, "fr")
    assert png.startswith(PNG) and 10_000 < len(png) < 200_000
    svg = progress_chart(bars, planned, [], TODAY, "sv", "svg").decode()
    assert "<svg" in svg and "Andel klart per steg" in svg
    assert progress_chart(bars, planned, [], TODAY, "en") == \
        progress_chart(bars, planned, [], TODAY, "en")  # no timestamp in the file


# --------------------------------------------------------------------------- CLI


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-c", str(config_path), *args])


def test_cli_report_formats(tmp_path: Path) -> None:
    config_path = example_config(tmp_path)
    minutes = tmp_path / "m.yaml"
    minutes.write_text(MINUTES_YAML, encoding="utf-8")
    assert run(config_path, "minutes", "import", str(minutes)).exit_code == 0
    markdown = run(config_path, "report", "--today", "2027-10-01")
    assert markdown.exit_code == 0 and "| FRL-1 | Publish the research summary |" in markdown.output
    html = tmp_path / "out" / "report.html"
    html.parent.mkdir()  # a missing folder is refused, not created (issue 25)
    result = run(config_path, "report", "--format", "html", "-o", str(html))
    assert result.exit_code == 0 and f"wrote {html}" in result.stderr
    assert "data:image/png;base64," in html.read_text(encoding="utf-8")
    chart = tmp_path / "out" / "progress.svg"
    result = run(config_path, "report", "-o", str(tmp_path / "out" / "r.md"), "--chart", str(chart))
    assert result.exit_code == 0 and chart.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert "(progress.svg)" in (tmp_path / "out" / "r.md").read_text(encoding="utf-8")
    table = run(config_path, "report", "--format", "csv")
    assert table.exit_code == 0 and table.output.startswith("Step,Number,Action to take")
    bad = run(config_path, "report", "--format", "pdf")
    assert bad.exit_code == 2 and "'pdf' is not one of" in bad.stderr


def test_cli_profile(tmp_path: Path) -> None:
    config_path = example_config(tmp_path)
    result = run(config_path, "profile")
    assert result.exit_code == 0
    text = result.output
    assert text.startswith("# Friesland Newcomer Mediation Alliance")
    assert "## Where we are" in text and "actions of the action plan are done" in text
    assert text.index("## Where we are") < text.index("## Contact")
    assert run(config_path, "report", "--profile").output == text


# --------------------------------------------------------------------------- a real browser

_CHECK = """
<script>
window.addEventListener("load", function () {
  var img = document.getElementById("progress-chart");
  var ok = img && img.complete && img.naturalWidth > 0;
  document.body.setAttribute("data-picture", ok ? "loaded-" + img.naturalWidth : "broken");
});
</script>
"""


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (Debian: apt-get "
                    "install chromium; the headless browser check of the HTML report is skipped)")
def test_html_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    report_path = tmp_path / "report.html"
    result = run(example_config(tmp_path), "report", "--format", "html", "-o", str(report_path))
    assert result.exit_code == 0
    # The report has no script of its own; a copy gets one that says whether the picture loaded.
    checked = tmp_path / "checked.html"
    checked.write_text(report_path.read_text(encoding="utf-8").replace("</body>", _CHECK
                                                                       + "</body>"),
                       encoding="utf-8")
    command = [str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([*command, "--dump-dom", checked.as_uri()], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert 'data-picture="loaded-1100"' in dom
    assert "<h1>Regional alliance action plan: Friesland Newcomer Mediation Alliance</h1>" in dom
    shot = tmp_path / "report.png"
    subprocess.run([*command, f"--screenshot={shot}", "--window-size=1280,1600",
                    report_path.as_uri()], capture_output=True, timeout=60, check=True)
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 20_000
