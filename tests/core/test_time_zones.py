"""The alliance's time zone comes from its country; calendar files carry its VTIMEZONE."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from icalendar import Calendar

from sync.cli.main import cli
from sync.core.config import load_config
from sync.core.places import country_zones, suggested_zone, zone_mismatch
from tests.support.alliance import example_config


def _irish(tmp_path: Path, zone: str | None = None) -> Path:
    path = example_config(tmp_path)
    text = path.read_text(encoding="utf-8").replace("  country: NL ", "  country: IE ", 1)
    if zone:
        text = text.replace("  country: IE ", f"  timezone: {zone}\n  country: IE ", 1)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_country_gives_the_zone() -> None:
    assert suggested_zone("IE") == "Europe/Dublin"
    assert suggested_zone("se") == "Europe/Stockholm"
    assert suggested_zone("ES") == "Europe/Madrid"  # the mainland, not the Canaries
    assert suggested_zone("US") is None and "America/New_York" in country_zones("US")
    assert zone_mismatch("IE", "Europe/Dublin") is None
    assert "use Europe/Dublin" in (zone_mismatch("IE", "Europe/Amsterdam") or "")


def test_a_config_without_timezone_takes_the_country_s(tmp_path: Path) -> None:
    assert load_config(_irish(tmp_path)).alliance.timezone == "Europe/Dublin"
    assert load_config(_irish(tmp_path, "Europe/Amsterdam")).alliance.timezone == \
        "Europe/Amsterdam"


def test_ics_is_in_the_alliance_s_zone_with_its_vtimezone(tmp_path: Path) -> None:
    ics = tmp_path / "plenaries.ics"
    result = CliRunner().invoke(cli, ["-c", str(_irish(tmp_path)), "meeting", "schedule",
                                      "--ics", str(ics)])
    assert result.exit_code == 0, result.output
    text = ics.read_text(encoding="utf-8")
    assert "DTSTART;TZID=Europe/Dublin:" in text and "Europe/Amsterdam" not in text
    calendar = Calendar.from_ical(ics.read_bytes())
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["tzid"]) == "Europe/Dublin"
    assert {c.name for c in zone.subcomponents} >= {"STANDARD", "DAYLIGHT"}
    first = next(iter(calendar.walk("VEVENT"))).decoded("dtstart")
    assert str(first.tzinfo) == "Europe/Dublin"


def test_validate_warns_of_a_zone_of_another_country(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-c", str(_irish(tmp_path, "Europe/Amsterdam")),
                                      "validate"])
    assert result.exit_code == 0
    assert "alliance.timezone: time zone Europe/Amsterdam is not one of Ireland's (IE)" \
        in result.stderr
