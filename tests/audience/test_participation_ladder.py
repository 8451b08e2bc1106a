"""The guide's participation ladder per member organisation: config, stakeholder database,
alliance profile."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from playbooks import load_playbook
from sync.audience.model import Stakeholder
from sync.core.config import load_config
from sync.documents.render import render_template
from tests.support.paths import EXAMPLE_CONFIG


def test_the_profile_shows_each_organisations_level_in_the_alliance_language() -> None:
    config = load_config(EXAMPLE_CONFIG)
    nl = render_template("profile", config, load_playbook("nl")).text
    assert "- Gemeente Leeuwarden · Samen beslissen" in nl
    assert "- DBieb · Informatie-uitwisseling" in nl
    assert "- Kruispunt\n" in nl  # no level set: none shown
    assert "participatieladder" in nl


def test_the_stakeholder_database_holds_the_level_in_any_language() -> None:
    for name in ("deciding_together", "Samen beslissen", "Décider ensemble", "samen BESLISSEN"):
        person = Stakeholder(organisation="Gemeente Enschede", engagement=name)
        assert person.engagement == "deciding_together", name
    with pytest.raises(ValidationError, match="participation ladder"):
        Stakeholder(organisation="Gemeente Enschede", engagement="enthusiastic")


def test_the_sheet_prefills_the_members_level() -> None:
    config = load_config(EXAMPLE_CONFIG)
    sheet = render_template("stakeholders", config, load_playbook("en")).text.splitlines()
    assert sheet[0].endswith("Engagement level (participation ladder)")
    assert sheet[1].endswith(",Collective planning and delivery")  # its name: read back on import
