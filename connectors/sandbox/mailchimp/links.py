"""Mailchimp's ``_links``: every answer names itself, its parent and what may be done to it.

Mailchimp puts a ``_links`` list (``rel``, ``href``, ``method``, schema URLs) on every
resource and collection it answers with, and on each item of a collection. The sandbox
derives them from its routes: ``self`` (GET), ``parent`` (the collection above, GET), and
for the methods the path takes ``update`` (PATCH), ``upsert`` (PUT), ``delete`` (DELETE),
``create`` (POST). Schema URLs point at Mailchimp's own schema names, as it sends them.
``/ping`` answers its health status alone, as Mailchimp's does.
"""

from __future__ import annotations

from typing import Any

from werkzeug import Request
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map

RELS = (("GET", "self"), ("PATCH", "update"), ("PUT", "upsert"), ("DELETE", "delete"),
        ("POST", "create"))
SCHEMA = "https://us1.api.mailchimp.com/schema/3.0/Definitions"
MOUNT = "/mailchimp"


def _methods(url_map: Map, path: str) -> list[str]:
    adapter = url_map.bind("sandbox", "/")
    allowed = []
    for method, _rel in RELS:
        try:
            adapter.match(path, method)
        except (NotFound, MethodNotAllowed):
            continue
        allowed.append(method)
    return allowed


def links_of(base: str, path: str, url_map: Map) -> list[dict[str, Any]]:
    """The ``_links`` of the resource at ``path`` (``/3.0/...``), ``base`` the service URL."""
    out = []
    for method, rel in RELS:
        if method in _methods(url_map, path):
            link: dict[str, Any] = {"rel": rel, "href": base + path, "method": method}
            if method != "DELETE":
                link["targetSchema"] = f"{SCHEMA}{path.removeprefix('/3.0')}/Response.json"
            out.append(link)
    parent = path.rstrip("/").rsplit("/", 1)[0]
    if parent.startswith("/3.0") and parent != path and _methods(url_map, parent):
        out.insert(1, {"rel": "parent", "href": base + parent, "method": "GET",
                       "targetSchema": f"{SCHEMA}{parent.removeprefix('/3.0')}/"
                                       "CollectionResponse.json"})
    return out


def with_links(result: Any, request: Request, url_map: Map) -> Any:
    """``result`` with Mailchimp's ``_links`` (and on each item of a collection that holds
    documents with an ``id``)."""
    if not isinstance(result, dict) or "_links" in result:
        return result
    base = request.host_url.rstrip("/") + MOUNT
    path = request.path[len(MOUNT):] if request.path.startswith(MOUNT) else request.path
    path = path.rstrip("/") or "/3.0"
    if path == "/3.0/ping":
        return result  # the health check answers its status alone
    if request.method == "POST" and "total_items" not in result and result.get("id"):
        path = f"{path}/{result['id']}"  # a created item names itself
    out = {**result, "_links": links_of(base, path, url_map)}
    if "total_items" in result:
        for name, items in result.items():
            if isinstance(items, list) and items and all(
                    isinstance(i, dict) and "id" in i and "_links" not in i for i in items):
                out[name] = [{**i, "_links": links_of(base, f"{path}/{i['id']}", url_map)}
                             for i in items]
    return out
