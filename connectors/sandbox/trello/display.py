"""``action.display`` of Trello's webhook deliveries: the ``translationKey`` and its entities.

Trello's clients render an action from ``display``: a ``translationKey`` naming the sentence
("action_move_card_from_list_to_list") and the ``entities`` filling it in (the card, the
lists, the member who acted, the comment's text). Webhook payloads carry it; the keys here are
the ones Trello's payloads show for the actions the sandbox records, ``unknown`` otherwise.
"""

from __future__ import annotations

from typing import Any

_SIMPLE = {
    "createCard": "action_create_card",
    "deleteCard": "action_delete_card",
    "commentCard": "action_comment_on_card",
    "addLabelToCard": "action_add_label_to_card",
    "removeLabelFromCard": "action_remove_label_from_card",
    "createList": "action_added_list_to_board",
    "createBoard": "action_create_board",
    "addChecklistToCard": "action_add_checklist_to_card",
    "removeChecklistFromCard": "action_remove_checklist_from_card",
    "updateCustomFieldItem": "action_update_custom_field_item",
    "createCheckItem": "action_add_checkitem_to_checklist",
}
_CARD_FIELDS = {
    "name": "action_renamed_card",
    "desc": "action_changed_description_of_card",
    "due": "action_changed_a_due_date",
    "idList": "action_move_card_from_list_to_list",
}


def translation_key(action: dict[str, Any]) -> str:
    """The ``translationKey`` of ``action`` as Trello names it."""
    kind = str(action.get("type") or "")
    data = action.get("data") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "updateCard":
        old = data.get("old") or {}
        if "closed" in old:
            return "action_archived_card" if not old["closed"] else "action_sent_card_to_board"
        if "dueComplete" in old:
            return ("action_marked_the_due_date_incomplete" if old["dueComplete"]
                    else "action_marked_the_due_date_complete")
        if "pos" in old:
            return "action_moved_card_lower" if (data.get("card") or {}).get("pos", 0) > \
                old["pos"] else "action_moved_card_higher"
        return next((_CARD_FIELDS[f] for f in old if f in _CARD_FIELDS), "unknown")
    if kind in ("addMemberToCard", "removeMemberFromCard"):
        self_done = data.get("idMember") == action.get("idMemberCreator")
        if kind == "addMemberToCard":
            return "action_member_joined_card" if self_done else "action_added_member_to_card"
        return "action_member_left_card" if self_done else "action_removed_member_from_card"
    if kind == "updateCheckItemStateOnCard":
        state = (data.get("checkItem") or {}).get("state")
        return ("action_completed_checkitem" if state == "complete"
                else "action_marked_checkitem_incomplete")
    return "unknown"


def display(action: dict[str, Any]) -> dict[str, Any]:
    """The ``display`` object of ``action``: its translation key and entities."""
    data = action.get("data") or {}
    entities: dict[str, Any] = {}
    card = data.get("card")
    if isinstance(card, dict):
        entities["card"] = {"type": "card", "id": card.get("id"), "shortLink":
                            card.get("shortLink"), "text": card.get("name", "")}
    for name in ("list", "listBefore", "listAfter"):
        found = data.get(name)
        if isinstance(found, dict):
            entities[name] = {"type": "list", "id": found.get("id"), "text": found.get("name")}
    if action.get("type") == "commentCard":
        entities["comment"] = {"type": "comment", "text": data.get("text", "")}
    creator = action.get("memberCreator") or {}
    entities["memberCreator"] = {"type": "member", "id": creator.get("id"),
                                 "username": creator.get("username"),
                                 "text": creator.get("fullName", "")}
    return {"translationKey": translation_key(action), "entities": entities}
