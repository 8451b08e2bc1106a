"""Trello emulator responses validated against the Trello OpenAPI document (the contract).

Where the document gives an operation's 200 schema, that schema is used; where it gives none
(``POST /boards/``, ``GET /boards/{id}/cards``, labels, checklists, actions, ...), the body is
validated against the component schema the document defines for that object. Known flaws of the
document (API-NOTES "Known flaws" and the ones listed in ``FLAWS`` below) are patched one
property at a time, each with its reason, never by switching validation off.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from trello import TrelloClient

from connectors.sandbox.clients.testing import member_token, trello_client
from connectors.sandbox.core.server import SandboxServer

CONTRACTS = Path(__file__).resolve().parents[3] / ".." / "shared" / "contracts"
SPEC_FILE = CONTRACTS / "trello" / "trello-openapi.json"
SPEC_URI = "urn:trello-openapi"

NULLABLE_ID = {"type": "string", "pattern": "^[0-9a-fA-F]{24}$", "nullable": True}
# (schema, dotted property path) -> (replacement, why the document is wrong there)
FLAWS: dict[tuple[str, str], tuple[dict[str, Any], str]] = {
    ("Board", "memberships"): (
        {"type": "array", "items": {"type": "object"}},
        "typed as a string; the API returns an array of membership objects",
    ),
    ("Board", "idOrganization"): (
        NULLABLE_ID,
        "not nullable; a board outside a workspace has null",
    ),
    ("Prefs", "permissionLevel"): (
        {"type": "string", "enum": ["org", "board", "private", "public"]},
        "enum lacks 'private' and 'public', the values boards are created with",
    ),
    ("CheckItem", "pos"): ({"type": "number"}, "typed as a string; the API returns a number"),
    ("Card", "labels"): (
        {"type": "array", "items": {"$ref": "#/components/schemas/Label"}},
        "documented as an array of ids; the API (and py-trello's Card.from_json) has label objects",
    ),
    ("Card", "idAttachmentCover"): (NULLABLE_ID, "not nullable; a card without cover has null"),
    ("Member", "idMemberReferrer"): (NULLABLE_ID, "$ref sibling 'nullable' is ignored in 3.0"),
    ("Action", "memberCreator.idMemberReferrer"): (
        NULLABLE_ID,
        "$ref sibling 'nullable' is ignored in 3.0 (the example itself has null)",
    ),
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_FILE.exists():
        pytest.skip(f"contracts folder absent: {SPEC_FILE} (tests run outside the workspace)")
    document = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    patched = copy.deepcopy(document)
    for (schema, dotted), (replacement, _why) in FLAWS.items():
        node = patched["components"]["schemas"][schema]
        *parents, last = dotted.split(".")
        for name in parents:
            node = node["properties"][name]
        node["properties"][last] = replacement
    return patched


def _validate(spec: dict[str, Any], pointer: str, body: Any) -> None:
    """Validate ``body`` against the schema at a JSON pointer inside the document."""
    registry: Registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4)
    )
    validator = OAS30Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(
            f"at {'/'.join(str(p) for p in e.absolute_path)!r}: {e.message}" for e in errors[:5]
        )
        raise AssertionError(f"{pointer}: {len(errors)} errors; {details}")


def _operation(path: str, method: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"/paths/{escaped}/{method}/responses/200/content/application~1json/schema"


def _component(name: str, array: bool = False) -> dict[str, Any]:
    return (
        {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}
        if array
        else {"$ref": f"#/components/schemas/{name}"}
    )


def _check_component(spec: dict[str, Any], name: str, body: Any, array: bool = False) -> None:
    """For operations without a response schema: the object's component schema."""
    holder = "x-sandbox-" + name + ("-list" if array else "")
    spec["components"]["schemas"][holder] = _component(name, array)
    _validate(spec, f"/components/schemas/{holder}", body)


@pytest.fixture
def world(sandbox: SandboxServer) -> dict[str, Any]:
    client = trello_client(sandbox)
    board = client.add_board("Contract board")
    lists = board.open_lists()
    card = lists[0].add_card("Card", desc="text", labels=board.get_labels()[:1])
    checklist = card.add_checklist("Steps", ["One"])
    field = board.add_custom_field_definition("Sector", "text")
    card.set_custom_field("Social", field)
    client.fetch_json(f"/boards/{board.id}/members", http_method="PUT",
                      post_args={"email": "ana@example.org", "fullName": "Ana"})
    trello_client(sandbox, member_token(sandbox, "ana@example.org")).get_card(card.id).change_list(
        lists[1].id
    )
    comment = card.comment("Fine")
    return {
        "client": client,
        "board": board,
        "card": card,
        "checklist": checklist,
        "comment": comment,
        "field": field,
    }


def test_operation_schemas(spec: dict[str, Any], world: dict[str, Any]) -> None:
    client: TrelloClient = world["client"]
    board, card = world["board"], world["card"]
    checks = [
        ("/members/{id}", "get", client.fetch_json("/members/me")),
        ("/members/{id}/boards", "get", client.fetch_json("/members/me/boards")),
        ("/boards/{id}", "get", client.fetch_json(f"/boards/{board.id}")),
        ("/boards/{id}/lists", "get", client.fetch_json(f"/boards/{board.id}/lists")),
        ("/boards/{id}/customFields", "get", client.fetch_json(f"/boards/{board.id}/customFields")),
        ("/cards/{id}", "get", client.fetch_json(f"/cards/{card.id}")),
        (
            "/cards/{id}/customFieldItems",
            "get",
            client.fetch_json(f"/cards/{card.id}/customFieldItems"),
        ),
        ("/cards/{id}/actions/comments", "post", world["comment"]),
        (
            "/cards",
            "post",
            client.fetch_json(
                "/cards", http_method="POST", post_args={"idList": card.idList, "name": "More"}
            ),
        ),
        (
            "/cards/{id}",
            "put",
            client.fetch_json(
                f"/cards/{card.id}", http_method="PUT", post_args={"name": "Renamed"}
            ),
        ),
        (
            "/boards/{id}/lists",
            "post",
            client.fetch_json(
                f"/boards/{board.id}/lists", http_method="POST", post_args={"name": "L"}
            ),
        ),
    ]
    for path, method, body in checks:
        _validate(spec, _operation(path, method), body)


def test_component_schemas_where_operations_have_none(
    spec: dict[str, Any], world: dict[str, Any]
) -> None:
    client: TrelloClient = world["client"]
    board, card = world["board"], world["card"]
    created = client.fetch_json("/boards/", http_method="POST", post_args={"name": "New"})
    _check_component(spec, "Board", created)
    _check_component(spec, "Card", client.fetch_json(f"/boards/{board.id}/cards"), array=True)
    _check_component(spec, "Label", client.fetch_json(f"/boards/{board.id}/labels"), array=True)
    _check_component(spec, "Member", client.fetch_json(f"/boards/{board.id}/members"), array=True)
    actions = client.fetch_json(f"/boards/{board.id}/actions")
    assert {"createCard", "updateCard", "commentCard", "addChecklistToCard"} <= {
        a["type"] for a in actions
    }
    _check_component(spec, "Action", actions, array=True)
    checklists = client.fetch_json(f"/cards/{card.id}/checklists")
    _check_component(spec, "Checklist", checklists, array=True)
    _check_component(spec, "CheckItem", checklists[0]["checkItems"], array=True)
    _check_component(spec, "TrelloList", client.fetch_json(f"/lists/{card.idList}"))


def test_webhook_schema(spec: dict[str, Any], world: dict[str, Any]) -> None:
    client: TrelloClient = world["client"]
    hook = client.fetch_json(
        "/webhooks/",
        http_method="POST",
        post_args={"callbackURL": "https://example.invalid/hook", "idModel": world["board"].id},
    )
    _validate(spec, _operation("/webhooks/", "post"), hook)
    _validate(
        spec, _operation("/webhooks/{id}", "get"), client.fetch_json(f"/webhooks/{hook['id']}")
    )


def test_validator_catches_a_wrong_shape(spec: dict[str, Any]) -> None:
    """The check can fail: a card whose id is not 24-hex is rejected."""
    with pytest.raises(AssertionError, match="does not match"):
        _validate(spec, _operation("/cards/{id}", "get"), {"id": "not-an-id"})
    with pytest.raises((AssertionError, ValidationError)):
        _validate(spec, _operation("/boards/{id}", "get"), {"name": "no id"})
