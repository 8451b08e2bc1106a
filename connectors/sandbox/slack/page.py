"""The Slack part of the sandbox's read-only page: channels, messages, reactions, threads.

Rendered with a Jinja2 template with autoescaping on, so every name and text a client sent
is shown as text, never as markup.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2

from connectors.sandbox.slack.workspace import Workspace

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

_TEMPLATE = _ENV.from_string(
    """<section class="slack">
{% if not channels %}<p class="empty">No channels yet.</p>{% endif %}
{% macro message(x) -%}
<span class="author">{{ x.author }}</span> <span class="ts">{{ x.ts }}</span>
{%- if x.edited %} <span class="edited">(edited)</span>{% endif %}
{%- if x.pinned %} <span class="pinned">(pinned)</span>{% endif %}
<div class="text">{{ x.text }}</div>
{%- if x.metadata %}<div class="metadata">metadata: {{ x.metadata }}</div>{% endif %}
{%- if x.reactions %}<ul class="reactions">
{%- for r in x.reactions %}<li>:{{ r.name }}: {{ r.users|length }} ({{ r.users|join(", ") }})</li>
{%- endfor %}</ul>{% endif %}
{%- endmacro %}
{% for c in channels %}
<article class="channel{% if c.archived %} archived{% endif %}">
<h3>#{{ c.name }}{% if c.private %} (private){% endif %}
{%- if c.archived %} (archived){% endif %}</h3>
<p class="meta">{{ c.id }} · {{ c.members|length }} member(s)
{%- if c.members %}: {{ c.members|join(", ") }}{% endif %}</p>
{% if c.topic %}<p class="topic">Topic: {{ c.topic }}</p>{% endif %}
{% if c.purpose %}<p class="purpose">Purpose: {{ c.purpose }}</p>{% endif %}
<ol class="messages">
{% for m in c.messages %}<li>{{ message(m) }}
{% if m.replies %}<ol class="thread">
{% for r in m.replies %}<li>{{ message(r) }}</li>
{% endfor %}</ol>{% endif %}</li>
{% endfor %}</ol>
</article>
{% endfor %}
</section>
"""
)


def render_slack_page(ws: Workspace) -> str:
    """The HTML fragment for every channel (archived ones too), oldest message first."""
    names: dict[str, str] = {}

    def who(user_id: str) -> str:
        if user_id not in names:
            person = ws.people.get_by_slack_id(user_id)
            names[user_id] = str(person.get("name") or user_id) if person else user_id
        return names[user_id]

    def shown(doc: dict[str, Any]) -> dict[str, Any]:
        metadata = doc.get("metadata")
        return {
            "author": who(doc["user"]),
            "ts": doc["ts"],
            "text": doc.get("text", ""),
            "edited": bool(doc.get("edited")),
            "pinned": bool(doc.get("pinned_to")),
            "metadata": json.dumps(metadata, ensure_ascii=False) if metadata else "",
            "reactions": [
                {"name": r["name"], "users": [who(u) for u in r["users"]]}
                for r in doc.get("reactions") or []
                if r.get("users")
            ],
        }

    channels = []
    for doc in ws.channels():
        messages = []
        for top in ws.top_level(doc["id"]):
            item = shown(top)
            item["replies"] = (
                [shown(r) for r in ws.replies(doc["id"], top["ts"])]
                if top.get("reply_count")
                else []
            )
            messages.append(item)
        channels.append(
            {
                "id": doc["id"],
                "name": doc["name"],
                "private": bool(doc.get("is_private")),
                "archived": bool(doc.get("is_archived")),
                "topic": doc["topic"]["value"],
                "purpose": doc["purpose"]["value"],
                "members": [who(u) for u in doc.get("members") or []],
                "messages": messages,
            }
        )
    return _TEMPLATE.render(channels=channels)
