"""The guide's templates rendered for the example alliance, in every language."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
import yaml

from playbooks import ActionRow, load_action_plan, load_playbook
from playbooks.labels import check_catalogue, flatten_keys, format_amount, format_date, labels
from sync.audience.stakeholders import parse_csv
from sync.core.config import Config, Person, load_config
from sync.core.errors import PlaybookError, UserError
from sync.documents.render import (
    STAKEHOLDER_COLUMNS,
    TEMPLATES,
    list_templates,
    render_template,
)
from tests.support.paths import EXAMPLE_CONFIG

LANGUAGES = ("en", "nl", "fr", "sv")
# The example alliance starts on 11 January 2027; the kick-off is 6 weeks later.
FIRST_MEETING = {
    "en": "22 February 2027",
    "nl": "22 februari 2027",
    "fr": "22 février 2027",
    "sv": "22 februari 2027",
}
MARKDOWN = [name for name, kind in TEMPLATES.items() if kind == "markdown"]
_PIPE = re.compile(r"(?<!\\)\|")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture(scope="module")
def rows(config: Config) -> list[ActionRow]:
    assert config.action_plan is not None
    path = config.resolve_path(config.action_plan)
    return load_action_plan(path, load_playbook("en"), config.people).rows


def _render(name: str, config: Config, language: str, **kwargs: object) -> str:
    return render_template(name, config, load_playbook(language), **kwargs).text  # type: ignore[arg-type]


def _table_rows(text: str, header_start: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header line starts with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    body = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        body.append([cell.strip() for cell in _PIPE.split(line)[1:-1]])
    return body


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", MARKDOWN)
def test_every_markdown_template_renders_with_the_alliance(
    name: str, language: str, config: Config, rows: list[ActionRow]
) -> None:
    doc = render_template(name, config, load_playbook(language), rows=rows)
    assert doc.filename.startswith("frl-") and doc.filename.endswith(f".{language}.md")
    assert doc.media_type.startswith("text/markdown")
    assert config.alliance.name in doc.text
    assert doc.text.endswith("\n") and not doc.text.endswith("\n\n")
    assert "{" not in doc.text, "an unfilled {placeholder} is left"
    title = load_playbook(language).templates[name]
    assert title in doc.text or name == "profile"


@pytest.mark.parametrize("language", LANGUAGES)
def test_documents_carry_people_vision_and_dates(language: str, config: Config) -> None:
    coordinator = config.people[0]
    vision = config.alliance.vision
    first = FIRST_MEETING[language]
    briefing = _render("briefing", config, language)
    assert vision in briefing and first in briefing and coordinator.name in briefing
    invitation = _render("invitation", config, language)
    assert first in invitation and coordinator.name in invitation
    assert str(coordinator.email) in invitation
    agenda = _render("agenda", config, language)
    assert first in agenda and config.alliance.host_organisation in agenda
    minutes = _render("minutes", config, language)
    assert first in minutes and all(p.name in minutes for p in config.people)
    profile = _render("profile", config, language)
    assert vision in profile and "Friesland College" in profile
    plan = _render("communication_plan", config, language)
    assert "Daan Bakker (example)" in plan and first in plan


@pytest.mark.parametrize("language", ["en", "nl"])
def test_charter_has_one_signature_row_per_person_and_the_vision(
    language: str, config: Config
) -> None:
    text = _render("charter", config, language)
    assert config.alliance.vision in text
    name_column = labels(language)["charter"]["col_name"]
    body = _table_rows(text, f"| {name_column} |")
    assert [row[0] for row in body] == [p.name for p in config.people]
    assert [row[1] for row in body] == [p.organisation for p in config.people]
    assert [row[3] for row in body] == [str(p.email) for p in config.people]
    assert all(row[2] == "" for row in body), "the date is filled in when signing"


def test_charter_commitments_are_the_guides(config: Config) -> None:
    text = _render("charter", config, "nl")
    assert "belangenconflicten" in text and "diversiteit en gelijkheid" in text
    assert "constructief debat" in text


def test_dates_are_written_per_language() -> None:
    day = dt.date(2027, 1, 11)
    assert format_date(day, "en") == "11 January 2027"
    assert format_date(day, "nl") == "11 januari 2027"
    assert format_date(day, "fr") == "11 janvier 2027"
    assert format_date(day, "sv") == "11 januari 2027"
    assert format_date(dt.date(2027, 3, 1), "fr") == "1er mars 2027"
    assert format_amount(Decimal("8500"), "nl") == "€ 8.500"
    assert format_amount(Decimal("1234.5"), "en") == "€1,234.50"


@pytest.mark.parametrize("language", ["en", "nl"])
def test_briefing_gives_enough_reasons_and_the_commitment(language: str, config: Config) -> None:
    book = load_playbook(language)
    text = _render("briefing", config, language)
    reasons = labels(language)["briefing"]["reasons"]
    assert len(reasons) >= book.facts.briefing_min_reasons
    assert all(f"{i}. {reason}" in text for i, reason in enumerate(reasons, start=1))
    count = len(book.meetings.meetings)
    assert book.facts.plenaries_min <= count <= book.facts.plenaries_max
    months = {"en": "over 18 months", "nl": "in 18 maanden"}[language]
    assert f"{count} " in text and months in text
    assert all(step.title in text for step in book.steps)


@pytest.mark.parametrize("language", ["en", "nl"])
def test_agenda_has_the_guides_items_and_the_next_meeting(language: str, config: Config) -> None:
    book = load_playbook(language)
    text = _render("agenda", config, language, meeting_number=2)
    items = [item.title for item in book.meetings.agenda if item.key != "host"]
    numbered = [f"{i}. {title}" for i, title in enumerate(items, start=1)]
    positions = [text.index(line) for line in numbered]
    assert positions == sorted(positions)
    assert book.meetings.meetings[1].title in text
    assert format_date(dt.date(2027, 9, 27), language) in text  # meeting 3: week 37


def test_last_agenda_says_there_is_no_next_meeting(config: Config) -> None:
    text = _render("agenda", config, "en", meeting_number=5)
    assert "This is the last plenary meeting of the plan." in text
    doc = render_template("agenda", config, load_playbook("en"), meeting_number=5)
    assert doc.filename == "frl-agenda-5.en.md"


def test_minutes_mark_what_is_due_and_summarise_the_plan(
    config: Config, rows: list[ActionRow]
) -> None:
    text = _render("minutes", config, "en", rows=rows, meeting_number=2)
    body = _table_rows(text, "| Subject |")
    by_subject = {row[0]: row for row in body}
    assert by_subject["Welcome and introductions"][4] == "R/A"
    assert by_subject["Conclusion and thanks"][4] == "N/A"
    assert by_subject["Any other business"][2:] == ["[agreed actions]", "[name]", "[date]"]
    assert "7 June 2027" in text  # meeting 2
    assert "27 September 2027" in by_subject["Date, time and place of the next meeting"][1]
    review = by_subject["Updates since the last meeting: review of the action plan"][1]
    assert "To do: 4; In progress: 1; Done: 1" in review


def test_swot_has_the_guides_questions(config: Config) -> None:
    text = _render("swot", config, "nl")
    for question in (
        "Met wie zou je kunnen samenwerken?",
        "Is de gemeenschap aan het veranderen?",
        "Hebben veranderingen in beleid en wetgeving invloed op je gemeenschap?",
    ):
        assert question in text
    assert "Interne zaken" in text and "Externe zaken" in text


@pytest.mark.parametrize("language", ["en", "nl"])
def test_communication_plan_has_a_row_per_sector_and_the_tools(
    language: str, config: Config
) -> None:
    book = load_playbook(language)
    text = _render("communication_plan", config, language)
    column = labels(language)["communication_plan"]["col_stakeholder"]
    body = _table_rows(text, f"| {column} |")
    assert len(body) == 4 + len(book.facts.sectors)
    assert all(len(row) == 5 and all(row) for row in body)
    for label in book.facts.sectors.values():
        assert any(row[0].startswith(label) for row in body)
    for tool in ("Trello", "Slack", "WhatsApp", "Mailchimp", "LinkedIn"):
        assert tool in text


@pytest.mark.parametrize("language", ["en", "nl"])
def test_action_plan_groups_tasks_and_own_rows_by_step(
    language: str, config: Config, rows: list[ActionRow]
) -> None:
    book = load_playbook(language)
    text = render_template("action_plan", config, book, rows=rows).text
    headings = [text.index(f"{step.number}: {step.title}\n") for step in book.steps]
    assert headings == sorted(headings)
    research = text[headings[2] : headings[3]]
    assert "Map newcomer support services on a shared online map" in research
    assert book.action_plan.statuses["done"] in research
    assert all(task.title in text for task in book.all_tasks())
    header = _table_rows(text, f"| {book.action_plan.columns[0].title} |")
    assert all(len(row) == len(book.action_plan.columns) for row in header)
    total = {"en": "€21,200", "nl": "€ 21.200"}[language]
    assert total in text


def test_stakeholder_csv_has_the_guides_columns_and_imports(config: Config) -> None:
    doc = render_template("stakeholders", config, load_playbook("nl"))
    assert doc.filename == "frl-stakeholders.nl.csv" and doc.media_type.startswith("text/csv")
    header, *_ = csv.reader(io.StringIO(doc.text))
    assert header[:2] == ["Organisatie of persoon", "Contactpersoon"]  # the template's language
    titles = labels("nl")["stakeholders"]["columns"]
    reader = csv.DictReader(io.StringIO(doc.text.replace(",".join(header),
                                                         ",".join(STAKEHOLDER_COLUMNS), 1)))
    assert header == [titles[column] for column in STAKEHOLDER_COLUMNS]
    for column in ("organisation", "contact_person", "influence", "engagement_strategy"):
        assert column in STAKEHOLDER_COLUMNS
    assert {"email", "consent_date", "consent_method"} <= set(STAKEHOLDER_COLUMNS)
    table = list(reader)
    assert [r["email"] for r in table] == [str(p.email) for p in config.people]
    assert {r["alliance_member"] for r in table} == {"ja"}  # in the sheet's language
    assert {r["consent_date"] for r in table} == {""}, "config membership is not consent"
    assert table[1]["contribution"] == "Voorzitter"
    parsed = parse_csv(doc.text, doc.filename)
    assert parsed.problems == [] and len(parsed.people) == len(config.people)


def test_action_plan_csv_reads_back_as_an_action_plan(
    tmp_path: Path, config: Config, rows: list[ActionRow]
) -> None:
    book = load_playbook("nl")
    doc = render_template("action_plan_csv", config, book, rows=rows)
    assert doc.filename == "frl-action-plan.nl.csv"
    path = tmp_path / doc.filename
    path.write_text(doc.text, encoding="utf-8")
    again = load_action_plan(path, book, config.people).rows
    assert len(again) == len(book.all_tasks()) + len(rows)
    own = {row.action: row for row in again}
    for row in rows:
        assert own[row.action].status == row.status
        assert own[row.action].due == row.due and own[row.action].step == row.step
        assert own[row.action].budget_eur == row.budget_eur


def test_a_pipe_or_newline_in_user_text_keeps_table_rows_intact(config: Config) -> None:
    tricky = Person(
        name="Zoë | Test",
        email="zoe@example.org",
        organisation="Stichting A | B\nafdeling C",
        role="communications",
        sector="social_action",
    )
    odd = config.model_copy(update={"people": [*config.people, tricky]})
    for name, header in (
        ("charter", "| Name |"),
        ("minutes", "| Name |"),
        ("communication_plan", "| Stakeholder / group |"),
    ):
        text = _render(name, odd, "en")
        body = _table_rows(text, header)
        header_line = next(line for line in text.splitlines() if line.startswith(header))
        width = len(_PIPE.split(header_line)) - 2
        assert all(len(row) == width for row in body), name
    charter = _render("charter", odd, "en")
    assert "| Zoë \\| Test | Stichting A \\| B<br>afdeling C |" in charter


def test_unknown_template_names_the_choices(config: Config) -> None:
    with pytest.raises(UserError) as caught:
        render_template("manifesto", config, load_playbook("en"))
    assert str(caught.value) == "unknown template 'manifesto'"
    assert "charter" in caught.value.hint and "action_plan_csv" in caught.value.hint


def test_meeting_number_out_of_range_is_a_user_error(config: Config) -> None:
    with pytest.raises(UserError, match="no plenary meeting 6") as caught:
        render_template("minutes", config, load_playbook("en"), meeting_number=6)
    assert caught.value.hint == "choose a meeting number from 1 to 5"


def test_language_argument_overrides_the_playbook(config: Config) -> None:
    doc = render_template("invitation", config, load_playbook("en"), language="nl")
    assert doc.filename == "frl-invitation.nl.md"
    assert "Beste collega," in doc.text and "22 februari 2027" in doc.text


def test_list_templates_titles_and_file_names() -> None:
    infos = list_templates("nl", slug="frl")
    assert [i.name for i in infos] == list(TEMPLATES)
    by_name = {i.name: i for i in infos}
    assert by_name["charter"].title == "Handvest van de alliantie"
    assert by_name["charter"].filename == "frl-charter.nl.md"
    assert by_name["action_plan_csv"].format == "csv"
    assert by_name["action_plan_csv"].title == "Actieplan van de regionale alliantie (CSV)"
    assert list_templates("en")[0].filename == "{slug}-briefing.en.md"


def _raw(language: str) -> object:
    path = resources.files("playbooks").joinpath(f"data/labels/{language}.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_label_catalogues_have_identical_keys(language: str) -> None:
    assert flatten_keys(_raw(language)) == flatten_keys(_raw("en"))
    assert labels(language)  # loads with every check


def test_a_catalogue_with_a_missing_or_wrong_label_is_reported() -> None:
    reference = {"a": {"b": "x", "c": ["1", "2"]}, "d": "y"}
    broken = {"a": {"b": " ", "c": ["1", {"Question": "answer?"}]}, "e": "z"}
    problems = check_catalogue(broken, reference, "labels/xx.yaml")
    assert [str(p) for p in problems] == [
        "labels/xx.yaml: a.b: must be a non-empty text (hint: put the text in quotes)",
        "labels/xx.yaml: a.c[1]: must be a non-empty text (hint: put the text in quotes)",
        "labels/xx.yaml: d: missing label",
        "labels/xx.yaml: e: unknown label (hint: remove it or add it to en.yaml)",
    ]
    with pytest.raises(PlaybookError, match="no template labels"):
        labels("xx")
