"""click's own usage errors and ``init``'s refused answers in Dutch; English as click writes
it. Each refusal the shared checks and click make must match a template, so a reworded
check (or a click that words its errors anew) is caught here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbooks.dates import DateError, read_date
from sync.cli.main import cli
from sync.cli.support.i18n import translations
from sync.cli.support.messages import match_template
from sync.cli.support.usage import CLICK_TEMPLATES, TEMPLATES, translate_usage
from sync.core import checks
from sync.core.init_config import ANSWER_CHECKS
from sync.core.places import country_problem

ANSWERS = "Kalmar Alliantie\nklm\nKalmar\nSE\n\n15-01-2027\n18\nAnna\nanna@example.org\nGemeente\n"


@pytest.fixture(autouse=True)
def _english_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCM_SYNC_LANG", raising=False)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


def _run(*args: str, dutch: bool) -> tuple[int, str]:
    env = {"MCM_SYNC_LANG": "nl" if dutch else "en"}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(("args", "english", "dutch"), [
    (["--bogus"], "Error: No such option '--bogus'. Did you mean '--verbose'?",
     "Fout: Optie '--bogus' bestaat niet. Bedoel je '--verbose'?"),
    (["bogus"], "Error: No such command 'bogus'.", "Fout: Opdracht 'bogus' bestaat niet."),
    (["doctor", "--jsn"], "Error: No such option '--jsn'. Did you mean '--json'?",
     "Fout: Optie '--jsn' bestaat niet. Bedoel je '--json'?"),
    (["meeting", "agenda"], "Error: Missing argument 'NUMBER'.",
     "Fout: Argument 'NUMBER' ontbreekt."),
    (["meeting", "agenda", "two"], "Error: Invalid value for 'NUMBER': 'two' is not a valid "
     "integer.", "Fout: Ongeldige waarde voor 'NUMBER': 'two' is geen geldig geheel getal."),
    (["doctor", "extra"], "Error: Got unexpected extra argument (extra)",
     "Fout: Onverwacht extra argument (extra)"),
    (["doctor", "--only"], "Error: Option '--only' requires an argument.",
     "Fout: Optie '--only' heeft een waarde nodig."),
    (["init", "--duration", "5"], "Error: Invalid value for '--duration': 5 is not in the "
     "range 12<=x<=36.", "Fout: Ongeldige waarde voor '--duration': 5 ligt niet in het "
     "bereik 12<=x<=36."),
    (["init", "--language", "de"], "Error: Invalid value for '--language': 'de' is not one "
     "of 'en', 'nl', 'fr', 'sv'.", "Fout: Ongeldige waarde voor '--language': 'de' is niet "
     "een van 'en', 'nl', 'fr', 'sv'."),
    (["init", "--start-date", "5/7/2027"], "Error: Invalid value for '--start-date': "
     "'5/7/2027' is not a date: slashes are not read", "Fout: Ongeldige waarde voor "
     "'--start-date': '5/7/2027' is geen datum: schuine strepen worden niet gelezen"),
])
def test_click_s_usage_errors_in_dutch_and_in_english(args: list[str], english: str,
                                                       dutch: str) -> None:
    code, said = _run(*args, dutch=False)
    assert code == 2 and english in said
    code, gezegd = _run(*args, dutch=True)
    assert code == 2 and dutch in gezegd, gezegd
    assert "Error" not in gezegd and "Try" not in gezegd
    if "Try '" in said:  # click knows the command (not for an option's missing value)
        assert "Probeer '" in gezegd and "voor hulp." in gezegd and "Gebruik: " in gezegd


def test_every_usage_error_click_shows_above_has_its_template() -> None:
    shown = [_run(*args, dutch=False)[1].splitlines()[-1].removeprefix("Error: ")
             for args in (["--bogus"], ["meeting", "agenda"], ["doctor", "extra"],
                          ["doctor", "--only"], ["init", "--duration", "5"])]
    for message in shown:
        assert match_template(message, CLICK_TEMPLATES), message


def test_every_refusal_of_init_s_answers_has_its_template() -> None:
    refusals = [ANSWER_CHECKS["name"]("ab"), ANSWER_CHECKS["slug"]("X"),
                ANSWER_CHECKS["coordinator_email"]("anna"), country_problem("ZZ")]
    for wrong, check in (("Mars/Olympus", checks.time_zone),
                         (dt.date(1, 1, 1), checks.start_date)):
        with pytest.raises(ValueError) as refused:
            check(wrong)  # type: ignore[operator]
        refusals.append(str(refused.value))
    for typed in ("5/7/2027", "morgen"):
        with pytest.raises(DateError) as wrong_date:
            read_date(typed)
        refusals.append(f"{wrong_date.value.message}: {wrong_date.value.hint}")
    for refusal in refusals:
        assert refusal and match_template(refusal, TEMPLATES), refusal


def test_init_refuses_a_wrong_answer_in_dutch_and_asks_again(tmp_path: Path) -> None:
    wrong_first = ANSWERS.replace("klm\n", "KLM X\nklm\n").replace("anna@", "anna\nanna@")
    target = tmp_path / "kalmar.yaml"
    result = CliRunner().invoke(cli, ["-c", str(target), "init", "--language", "nl"],
                                input=wrong_first)
    assert result.exit_code == 0, result.output
    assert ("Fout: moet 2-20 tekens zijn: kleine letters, cijfers en '-', beginnend met een "
            "letter (bijv. ros)") in result.stdout
    assert "Fout: 'anna' is geen e-mailadres" in result.stdout
    assert result.stdout.count("Korte id (kleine letters, bijv. frl)") == 2
    assert target.exists()
    english = CliRunner().invoke(cli, ["-c", str(tmp_path / "e.yaml"), "init", "--language",
                                       "en"], input=wrong_first)
    assert english.exit_code == 0, english.output
    assert "Error: must be 2-20 characters" in english.stdout
    assert "Error: 'anna' is not an e-mail address" in english.stdout


def test_a_group_without_its_command_still_shows_its_help_in_dutch() -> None:
    result = CliRunner().invoke(cli, ["meeting"], env={"MCM_SYNC_LANG": "nl"})
    assert result.exit_code == 2 and "Opdrachten:" in result.output
    assert "Fout" not in result.output


def test_a_message_outside_the_templates_stays_as_click_wrote_it() -> None:
    assert translate_usage("Something click says anew.", translations("nl")) == (
        "Something click says anew.")
    assert translate_usage("Missing command.", translations("en")) == "Missing command."
