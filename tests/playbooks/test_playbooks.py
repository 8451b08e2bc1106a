"""Playbooks: the guide's facts are encoded, every language is complete, broken files fail well."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from playbooks import available_languages, load_playbook, load_playbook_files, validate_all
from playbooks.loader import STEP_KEYS
from playbooks.model import STATUSES
from sync.core.errors import PlaybookError, Problem

DATA = Path(__file__).resolve().parents[2] / "playbooks" / "data"
STRUCTURE = DATA / "structure.yaml"

# Every task the digest names, step by step.
DIGEST_TASKS = {
    "scope": [
        "define-region",
        "intersectoral-balance",
        "list-representatives",
        "write-briefing",
        "time-commitment",
        "keep-composition-open",
    ],
    "start": [
        "invite",
        "kickoff-workshop",
        "collective-overview",
        "rules-and-roles",
        "communication-means",
        "alliance-profile",
    ],
    "research": [
        "establish-facts",
        "sector-profiling",
        "secondary-research",
        "consultations",
        "mapping",
        "gap-finding",
    ],
    "publish": ["publish-research", "vision", "plan-actions", "sign-action-plan", "charter"],
    "promote": [
        "communication-strategy",
        "appoint-officer",
        "media-and-networks",
        "inform-policy-makers",
        "brand-image",
        "video-case-studies",
    ],
    "sustain": [
        "plan-sustainability",
        "self-monitoring",
        "joint-monitoring",
        "evaluation",
        "long-term-impact",
    ],
}


def test_four_languages_and_no_problems() -> None:
    assert available_languages() == ["en", "fr", "nl", "sv"]
    assert validate_all() == []


def test_six_steps_in_order_with_every_digest_task() -> None:
    book = load_playbook("en")
    assert [s.key for s in book.steps] == list(STEP_KEYS)
    assert [s.number for s in book.steps] == [1, 2, 3, 4, 5, 6]
    for step in book.steps:
        assert [t.id for t in step.tasks] == [f"{step.key}.{n}" for n in DIGEST_TASKS[step.key]]
        assert all(t.step == step.key for t in step.tasks)


@pytest.mark.parametrize("language", ["nl", "fr", "sv"])
def test_every_language_has_the_same_ids_timing_and_checklists(language: str) -> None:
    en, other = load_playbook("en"), load_playbook(language)
    assert other.language == language
    assert other.ids() == en.ids()
    for a, b in zip(en.all_tasks(), other.all_tasks(), strict=True):
        assert (a.id, a.timing, a.owner_role, a.templates) == (
            b.id,
            b.timing,
            b.owner_role,
            b.templates,
        )
        assert len(a.checklist) == len(b.checklist)
        assert b.title != a.title  # translated, not copied
    assert set(other.roles) == set(en.roles)
    assert set(other.templates) == set(en.templates)
    assert set(other.facts.sectors) == set(en.facts.sectors)
    assert list(other.action_plan.statuses) == list(en.action_plan.statuses)
    assert list(other.action_plan.smart) == list(en.action_plan.smart)
    assert [m.offset_weeks for m in other.meetings.meetings] == [
        m.offset_weeks for m in en.meetings.meetings
    ]


def test_the_guides_numbers() -> None:
    book = load_playbook("en")
    f = book.facts
    assert (f.members_min, f.members_max) == (8, 12)
    assert (f.plenaries_min, f.plenaries_max) == (4, 5)
    assert (f.duration_months_min, f.duration_months_max) == (12, 18)
    assert f.project_years == 2
    assert f.sustainability_lead_months == 6
    assert f.briefing_min_reasons == 5
    assert len(f.participation_ladder) == 5
    assert f.participation_ladder[0] == "Information exchange"
    assert f.participation_ladder[-1] == "Collective planning and delivery"
    assert len(f.action_planning_parts) == 6
    assert len(f.monitoring_modes) == 3
    assert f.monitoring_modes[0].startswith("Self-monitoring")
    assert set(f.sectors) == {"social_action", "socio_cultural_sports", "professional_economic"}
    assert len(book.action_plan.process) == 3
    assert list(book.action_plan.smart) == [
        "specific",
        "measurable",
        "achievable",
        "relevant",
        "time_bound",
    ]


def test_numbers_appear_in_the_texts_of_every_language() -> None:
    for language in available_languages():
        book = load_playbook(language)
        briefing = book.task("scope.write-briefing")
        assert len(briefing.checklist) == 6
        assert "5" in briefing.outcome
        assert "8" in book.task("scope.intersectoral-balance").checklist[-1]
        assert "12" in book.task("scope.intersectoral-balance").checklist[-1]
        commitment = book.task("scope.time-commitment").checklist[0]
        # "4-5", or "4 à 5" in French.
        assert re.search(r"\b4( à |-)5\b", commitment) and re.search(r"\b12( à |-)18\b", commitment)
        assert "6" in book.task("sustain.plan-sustainability").outcome
        assert book.task("publish.plan-actions").checklist[0] == book.facts.action_planning_parts[0]


def test_timing_fits_an_18_month_plan() -> None:
    book = load_playbook("en")
    assert book.facts.plan_weeks == 78
    for task in book.all_tasks():
        assert task.timing.offset_weeks + task.timing.duration_weeks <= 78, task.id
        assert task.outcome and task.checklist
    # The sustainability plan starts at least 6 months (26 weeks) before the end.
    assert book.task("sustain.plan-sustainability").timing.offset_weeks <= 78 - 26
    assert book.task("scope.define-region").timing.offset_weeks == 0


def test_meeting_series_and_agenda() -> None:
    book = load_playbook("en")
    meetings = book.meetings.meetings
    assert 4 <= len(meetings) <= 5
    weeks = [m.offset_weeks for m in meetings]
    assert weeks == sorted(weeks) and weeks[0] < 13 and weeks[-1] > 65
    assert [m.number for m in meetings] == list(range(1, len(meetings) + 1))
    assert {s for m in meetings for s in m.steps} <= set(STEP_KEYS)
    agenda = [a.key for a in book.meetings.agenda]
    assert agenda[:3] == ["host", "welcome", "previous_minutes"]
    assert agenda[-3:] == ["other_business", "next_meeting", "close"]
    assert {
        "updates_communication",
        "updates_knowledge",
        "updates_event_reviews",
        "updates_action_plan",
    } <= set(agenda)


def test_action_plan_template() -> None:
    book = load_playbook("nl")
    keys = [c.key for c in book.action_plan.columns]
    assert keys == [
        "number",
        "action",
        "local_problem",
        "description",
        "budget",
        "resources",
        "responsible",
        "timeline",
        "status",
        "due",
    ]
    assert tuple(book.action_plan.statuses) == STATUSES
    assert book.action_plan.statuses["doing"] == "Bezig"
    assert set(book.templates) == {
        "briefing",
        "invitation",
        "charter",
        "agenda",
        "minutes",
        "communication_plan",
        "swot",
        "stakeholders",
        "action_plan",
        "profile",
    }


def test_load_playbook_is_cached_and_rejects_unknown_languages() -> None:
    assert load_playbook("nl") is load_playbook("nl")
    with pytest.raises(PlaybookError) as info:
        load_playbook("de")
    assert info.value.problems[0].message == "no playbook in language 'de'"
    assert "en, fr, nl, sv" in info.value.problems[0].hint


# --- broken copies ------------------------------------------------------------------------


def _broken(
    tmp_path: Path, structure: Any = None, text: Any = None, language: str = "nl"
) -> list[Problem]:
    """Load edited copies; return the problems (the load must fail)."""
    s_data = yaml.safe_load(STRUCTURE.read_text(encoding="utf-8"))
    t_data = yaml.safe_load((DATA / "text" / f"{language}.yaml").read_text(encoding="utf-8"))
    if structure:
        structure(s_data)
    if text:
        text(t_data)
    s_path, t_path = tmp_path / "structure.yaml", tmp_path / f"{language}.yaml"
    s_path.write_text(yaml.safe_dump(s_data, allow_unicode=True), encoding="utf-8")
    t_path.write_text(yaml.safe_dump(t_data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        load_playbook_files(s_path, t_path, language)
    assert info.value.problems
    return info.value.problems


def _where(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.location, p.message) for p in problems}


def test_untouched_copies_load(tmp_path: Path) -> None:
    s_path, t_path = tmp_path / "s.yaml", tmp_path / "t.yaml"
    s_path.write_text(STRUCTURE.read_text(encoding="utf-8"), encoding="utf-8")
    t_path.write_text((DATA / "text" / "sv.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert load_playbook_files(s_path, t_path, "sv") == load_playbook("sv")


def test_unknown_key(tmp_path: Path) -> None:
    problems = _broken(tmp_path, structure=lambda d: d["steps"][0]["tasks"][0].update(colour="red"))
    assert _where(problems) == {("steps[0].tasks[0].colour", "unknown key")}
    assert problems[0].source.endswith("structure.yaml")
    assert "spelling" in problems[0].hint


def test_wrong_type(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["steps"][1]["tasks"][0]["timing"]["offset_weeks"] = "soon"

    problems = _broken(tmp_path, structure=edit)
    assert [p.location for p in problems] == ["steps[1].tasks[0].timing.offset_weeks"]
    assert problems[0].message.startswith("wrong type: input should be a valid integer")


def test_wrong_type_in_a_translation(tmp_path: Path) -> None:
    problems = _broken(
        tmp_path, text=lambda d: d["tasks"]["scope.define-region"]["checklist"].__setitem__(0, 42)
    )
    assert [p.location for p in problems] == ["tasks.scope.define-region.checklist[0]"]
    assert problems[0].message.startswith("wrong type")


def test_duplicate_id(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["steps"][0]["tasks"][1]["id"] = "scope.define-region"

    problems = _broken(tmp_path, structure=edit)
    messages = _where(problems)
    assert ("steps[0].tasks[1].id", "duplicate task id 'scope.define-region'") in messages
    # Its translation is now for an id that no longer exists.
    assert ("tasks.scope.intersectoral-balance", "translation for an unknown id") in messages


def test_duplicate_yaml_key_in_a_translation(tmp_path: Path) -> None:
    text = (DATA / "text" / "en.yaml").read_text(encoding="utf-8")
    text = text.replace("  chair: Chair\n", "  chair: Chair\n  chair: President\n", 1)
    s_path, t_path = tmp_path / "s.yaml", tmp_path / "en.yaml"
    s_path.write_text(STRUCTURE.read_text(encoding="utf-8"), encoding="utf-8")
    t_path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        load_playbook_files(s_path, t_path, "en")
    [problem] = info.value.problems
    assert problem.message == "duplicate key 'chair'"
    assert problem.location.startswith("line ")


def test_missing_and_extra_translation(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        del d["tasks"]["research.mapping"]
        d["statuses"]["maybe"] = "Misschien"
        del d["agenda"]["close"]

    problems = _broken(tmp_path, text=edit)
    assert _where(problems) == {
        ("tasks.research.mapping", "missing translation"),
        ("agenda.close", "missing translation"),
        ("statuses.maybe", "translation for an unknown id"),
    }
    assert all(p.source.endswith("nl.yaml") for p in problems)


def test_checklist_length_must_match(tmp_path: Path) -> None:
    problems = _broken(tmp_path, text=lambda d: d["tasks"]["publish.charter"]["checklist"].pop())
    assert _where(problems) == {
        ("tasks.publish.charter.checklist", "has 3 items; structure.yaml says 4")
    }


def test_unknown_role_and_template(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["steps"][2]["tasks"][0]["owner_role"] = "treasurer"
        d["steps"][2]["tasks"][0]["templates"] = ["newsletter"]

    problems = _broken(tmp_path, structure=edit)
    assert _where(problems) == {
        ("steps[2].tasks[0].owner_role", "unknown role 'treasurer'"),
        ("steps[2].tasks[0].templates[0]", "unknown template 'newsletter'"),
    }


def test_timing_past_the_plan_and_late_sustainability(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["steps"][4]["tasks"][0]["timing"] = {"offset_weeks": 70, "duration_weeks": 20}
        d["steps"][5]["tasks"][0]["timing"] = {"offset_weeks": 60, "duration_weeks": 10}

    problems = _broken(tmp_path, structure=edit)
    messages = _where(problems)
    assert ("steps[4].tasks[0].timing", "ends in week 90, after the plan's 78 weeks") in messages
    late = [p for p in problems if p.location == "steps[5].tasks[0].timing.offset_weeks"]
    assert late[0].message == (
        "the sustainability plan starts in week 60, "
        "less than 6 months before the plan ends (week 78)"
    )
    assert late[0].hint == "start it in week 52 or earlier"


def test_meeting_count_and_steps(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["meetings"].append({"key": "extra", "offset_weeks": 77, "steps": ["party"]})

    problems = _broken(tmp_path, structure=edit)
    messages = _where(problems)
    assert ("meetings", "6 meetings; the guide asks for 4-5") in messages
    assert ("meetings[5].steps[0]", "unknown step 'party'") in messages
    assert ("meetings.extra", "missing translation") in messages


def test_steps_are_fixed(tmp_path: Path) -> None:
    problems = _broken(tmp_path, structure=lambda d: d["steps"].reverse())
    assert any(p.location == "steps" and "in this order" in p.message for p in problems)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    def edit_structure(d: dict[str, Any]) -> None:
        d["facts"]["members_max"] = "twelve"
        d["surprise"] = True

    def edit_text(d: dict[str, Any]) -> None:
        d["roles"]["chair"] = ""

    problems = _broken(tmp_path, structure=edit_structure, text=edit_text)
    assert {
        ("facts.members_max", "wrong type: input should be a valid integer (got str)"),
        ("surprise", "unknown key"),
        ("roles.chair", "must not be empty"),
    } <= _where(problems)
    assert all(str(p).startswith(str(tmp_path)) for p in problems)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    s_path, t_path = tmp_path / "s.yaml", tmp_path / "t.yaml"
    s_path.write_text(STRUCTURE.read_text(encoding="utf-8"), encoding="utf-8")
    t_path.write_text("title: [unclosed\nroles: {}\n", encoding="utf-8")
    with pytest.raises(PlaybookError) as info:
        load_playbook_files(s_path, t_path, "xx")
    [problem] = info.value.problems
    assert problem.message.startswith("not valid YAML")
    assert problem.location.startswith("line ")
