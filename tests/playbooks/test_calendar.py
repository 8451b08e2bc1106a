"""The calendar follows the alliance: 12-18 months, 4 or 5 plenaries, nothing after the end,
the sustainability plan due at least 6 months before it, the same dates in every output."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from playbooks import load_playbook
from playbooks.calendar import SUSTAINABILITY_TASK, add_months, fit_playbook
from sync.api import Alliance
from sync.cli.main import cli
from sync.core.config import load_config
from sync.plenary.meetings import meeting_schedule
from sync.reports.report import build_report
from sync.state.store import StateStore
from tests.support.alliance import example_config

BOOK = load_playbook("en")


@settings(max_examples=60, deadline=None)
@given(months=st.integers(12, 18), plenaries=st.sampled_from([4, 5]),
       start=st.dates(dt.date(2025, 1, 1), dt.date(2032, 12, 31)))
def test_no_date_after_the_end_and_sustainability_six_months_before(
        months: int, plenaries: int, start: dt.date) -> None:
    end = add_months(start, months)
    book = fit_playbook(BOOK, start, end, plenaries)
    dues = {t.id: t.timing.due_date(start) for t in book.all_tasks()}
    assert max(dues.values()) <= end
    assert dues[SUSTAINABILITY_TASK] <= add_months(end, -6)
    assert all(t.timing.offset_weeks >= 0 and t.timing.duration_weeks >= 1
               for t in book.all_tasks())
    meetings = book.meetings.meetings
    assert [m.number for m in meetings] == list(range(1, plenaries + 1))
    dates = [start + dt.timedelta(weeks=m.offset_weeks) for m in meetings]
    assert dates == sorted(dates) and len(set(dates)) == plenaries and dates[-1] <= end


def test_eighteen_months_keeps_the_guide_plan() -> None:
    start = dt.date(2027, 1, 11)
    book = fit_playbook(BOOK, start, add_months(start, 18), 5)
    assert [m.offset_weeks for m in book.meetings.meetings] == \
        [m.offset_weeks for m in BOOK.meetings.meetings]


def test_a_twelve_month_alliance_of_four_plenaries_everywhere(tmp_path: Path) -> None:
    path = example_config(tmp_path)
    text = path.read_text().replace("duration_months: 18", "duration_months: 12")
    text = text.replace("plenaries: 5", "plenaries: 4")
    path.write_text(text)
    alliance = Alliance(load_config(path))
    config, book = alliance.config, alliance.playbook
    end = config.alliance.end_date
    with StateStore.open(tmp_path / "empty.db") as store:
        schedule = meeting_schedule(config, book, store)
    assert len(schedule) == 4 and max(m.date for m in schedule) <= end
    assert "midterm-review" not in [m.key for m in schedule]
    report = build_report(config, book, [], [], [], schedule, config.alliance.start_date)
    assert max(r.due for r in report.rows if r.due) <= end
    runner = CliRunner()
    briefing = runner.invoke(cli, ["-c", str(path), "template", "render", "briefing"])
    assert briefing.exit_code == 0, briefing.output
    for meeting in schedule:  # the briefing lists the schedule's dates
        assert meeting.date.strftime("%-d %B %Y") in briefing.stdout
    validate = runner.invoke(cli, ["-c", str(path), "validate"])
    assert validate.exit_code == 0, validate.output
    assert "after the end" in validate.stderr
    assert "row 2: 'Open a weekly mediation desk" in validate.stderr  # names the item
    assert "task " not in validate.stderr and "plenary meeting" not in validate.stderr


def test_validate_names_an_action_row_after_the_end(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("rows:\n  - action: Late festival\n    step: promote\n"
                    "    due: 2031-01-01\n", encoding="utf-8")
    path = example_config(tmp_path)
    path.write_text(path.read_text().replace(
        f"action_plan: {Path(__file__).parents[2] / 'playbooks/examples/frl-action-plan.yaml'}",
        f"action_plan: {plan}"))
    result = CliRunner().invoke(cli, ["-c", str(path), "validate"])
    assert result.exit_code == 0, result.output
    assert "'Late festival' is due 2031-01-01, after the end" in result.stderr
