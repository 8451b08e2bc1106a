"""CLI of the stakeholder database, forget and newsletter: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
FRIESLAND = ROOT / "playbooks" / "examples" / "stakeholders-friesland.csv"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    text = text.replace("action_plan: playbooks/examples/frl-action-plan.yaml", "")
    path = tmp_path / "mcm-sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run(config_file: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["-c", str(config_file), *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def test_import_list_show_export(config_file: Path, tmp_path: Path) -> None:
    code, out, _ = run(config_file, "stakeholders", "import", str(FRIESLAND), "--dry-run")
    assert code == 0 and out.startswith(f"would import {FRIESLAND}: 13 new")
    code, out, _ = run(config_file, "stakeholders", "list")
    assert code == 0 and "no stakeholders yet" in out
    code, out, _ = run(config_file, "stakeholders", "import", str(FRIESLAND))
    assert code == 0 and "13 new, 0 changed, 0 unchanged" in out
    code, out, _ = run(config_file, "stakeholders", "import", str(FRIESLAND))
    assert "0 new, 0 changed, 13 unchanged" in out
    code, out, _ = run(config_file, "stakeholders", "list")
    lines = out.splitlines()
    assert lines[-1] == "13 stakeholders"
    assert lines[0].split()[0] == "anna.voorbeeld@example.org" and "to-push" in lines[0]
    assert "no-consent" in lines[1] and "withdrawn" in lines[4]
    code, out, _ = run(config_file, "stakeholders", "list", "--json")
    people = json.loads(out)
    assert len(people) == 13 and people[0]["organisation"] == "Gemeente Leeuwarden"
    code, out, _ = run(config_file, "stakeholders", "show", "ANNA.voorbeeld@example.org")
    assert code == 0 and "organisation       Gemeente Leeuwarden" in out
    code, out, err = run(config_file, "stakeholders", "show", "nobody@example.org")
    assert code == 2 and err.startswith("error: no stakeholder with address nobody@example.org")
    code, out, _ = run(config_file, "stakeholders", "export")
    assert code == 0 and out == FRIESLAND.read_text(encoding="utf-8")
    target = tmp_path / "out.csv"
    code, out, _ = run(config_file, "stakeholders", "export", "-o", str(target))
    assert code == 0 and out == f"wrote 13 stakeholders to {target}\n"


def test_bad_file_exits_2_with_one_line_per_problem(config_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("organisation,email\nKruispunt,nope\nX,x@example.org\n", encoding="utf-8")
    code, out, err = run(config_file, "stakeholders", "import", str(bad))
    assert code == 2
    assert err.splitlines() == [
        f"error: {bad}: row 2, column email: not a valid e-mail address "
        "(An email address must have an @-sign.)",
        f"error: {bad}: row 3, column organisation: String should have at least 2 characters",
    ]
    code, out, err = run(config_file, "stakeholders", "import", str(bad), "--skip-invalid")
    assert code == 0 and "0 new" in out and err.count("skipped: ") == 2


def test_forget_dry_run_confirmation_and_tombstone(config_file: Path, tmp_path: Path) -> None:
    run(config_file, "stakeholders", "import", str(FRIESLAND))
    target = tmp_path / "out.csv"
    run(config_file, "stakeholders", "export", "-o", str(target))
    code, out, _ = run(config_file, "forget", "bram.voorbeeld@example.org", "--dry-run")
    assert code == 0 and out.startswith(
        "would erase bram.voorbeeld@example.org from: the stakeholder database (Provincie Fryslân)"
    )
    assert str(target.resolve()) in out
    code, out, err = run(config_file, "forget", "bram.voorbeeld@example.org", input="n\n")
    assert code == 2 and "not confirmed; nothing was erased" in err
    assert "bram.voorbeeld" in target.read_text(encoding="utf-8")
    # No audience bootstrapped: only the local erasure, which needs no service.
    code, out, _ = run(config_file, "forget", "bram.voorbeeld@example.org", input="y\n")
    assert code == 0 and "mailchimp: skipped; exports cleaned: 1" in out
    assert "bram.voorbeeld" not in target.read_text(encoding="utf-8")
    code, out, _ = run(config_file, "forget", "bram.voorbeeld@example.org", "--yes")
    assert out == "bram.voorbeeld@example.org was already erased; nothing to do\n"
    code, out, err = run(config_file, "stakeholders", "import", str(FRIESLAND))
    assert "0 new, 0 changed, 12 unchanged, 1 erased" in out
    assert f"erased: {FRIESLAND}: row 3 was erased on request" in err


def test_push_without_audience_says_bootstrap(config_file: Path) -> None:
    code, _, err = run(config_file, "stakeholders", "push", "--dry-run")
    assert code == 2
    assert err == (
        "error: no Mailchimp audience yet (hint: run `mcm-sync bootstrap` first "
        "(or set mailchimp.audience_id))\n"
    )


def test_newsletter_preview_writes_html_and_touches_nothing(
    config_file: Path, tmp_path: Path
) -> None:
    target = tmp_path / "letter.html"
    code, out, _ = run(
        config_file, "newsletter", "draft", "--since", "2024-01-01", "--preview", str(target)
    )
    assert code == 0 and out.startswith(
        f"wrote {target}: Friesland Newcomer Mediation Alliance: progress update"
    )
    assert "Mailchimp not touched" in out
    assert '<html lang="en">' in target.read_text(encoding="utf-8")
    code, _, err = run(
        config_file, "newsletter", "draft", "--since", "2099-01-01", "--preview", str(target)
    )
    assert code == 2 and "is in the future" in err
