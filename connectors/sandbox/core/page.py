"""The read-only HTML page at ``/``: what each emulated service holds, for a person to look at.

Each service renders its own fragment (``ServiceEmulator.render_page``); services build it with
:func:`render_fragment`, whose Jinja2 environment escapes every value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jinja2 import Environment
from markupsafe import Markup

if TYPE_CHECKING:
    from connectors.sandbox.core.service import ServiceEmulator

_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_PAGE = _ENV.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcm-sync sandbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { border-bottom: 2px solid #ccc; margin-top: 1.5em; }
.columns { display: flex; gap: 1em; overflow-x: auto; align-items: flex-start; }
.column { background: #eef1f4; border-radius: 6px; padding: .5em; min-width: 14em; }
.card { background: #fff; border-radius: 4px; padding: .4em; margin: .4em 0;
        box-shadow: 0 1px 1px #bbb; }
.muted { color: #777; font-size: .85em; } .tag { background: #ddd; border-radius: 3px;
        padding: 0 .3em; margin-right: .2em; font-size: .85em; }
</style></head>
<body>
<h1>mcm-sync sandbox</h1>
<p class="muted">Read-only view of the emulated services. Nothing here is real.</p>
{% for name, fragment in sections %}
<section id="{{ name }}"><h2>{{ name|capitalize }}</h2>
{{ fragment or "<p class='muted'>Nothing yet.</p>"|safe }}
</section>
{% endfor %}
</body></html>
"""
)


def render_fragment(template: str, **context: Any) -> Markup:
    """Render a Jinja2 template string with autoescaping (for ``render_page``)."""
    return Markup(_ENV.from_string(template).render(**context))


def render_page(services: Iterable[ServiceEmulator]) -> str:
    """The whole page: one section per loaded service."""
    sections = [(s.name, Markup(s.render_page())) for s in services]
    return _PAGE.render(sections=sections)
