"""The routing table of ``serve --alliances``: which alliance a delivery belongs to.

Each alliance of the folder is routed by what its state store recorded at bootstrap: its
Trello board, its Slack channels and its Mailchimp audience (:func:`read_route`). A delivery
names one of those (:class:`RoutingTable`): Trello by the callback URL the front registered
for the alliance (``/hooks/trello/<name>``, the config file's name) or else by the board in
the delivery (``model.id``); Slack events by ``event.channel`` / ``event.item.channel``,
button presses by ``channel.id`` (or ``container.channel_id``), slash commands by
``channel_id``; Mailchimp posts by ``data[list_id]``. Routing reads a few fields of a body
that is not verified yet, and nothing else: the delivery is then verified with the routed
alliance's own secrets (:class:`sync.serve.hooks.HookApp`) before anything in it is used.

The table is rebuilt from the folder by :class:`Router` every ``every`` seconds in the
background, and at once (at most every few seconds) when a delivery names nothing known, so an
alliance bootstrapped or added to the folder is routed without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.core.config import Config, load_config
from sync.core.services import (
    Secrets,
    configured_secrets,
    running_sandbox,
    sandbox_credentials,
    sandbox_data_dir,
)
from sync.fleet.folder import alliance_configs
from sync.serve.hooks import TRELLO_PATH, Scope
from sync.state.presence import check_state_file, check_state_schema
from sync.state.store import StateStore

log = logging.getLogger("mcm_sync.serve")
SANDBOX_MAILCHIMP_SECRET = "sandbox-mailchimp-webhook-secret"
MISS_EVERY = 2.0  # seconds: a delivery for nothing known re-reads the folder at most this often


@dataclass(frozen=True)
class Route:
    """One routed alliance: its config, the secrets that verify its deliveries, its scope."""

    name: str  # the config file's name without .yaml: the alliance's part of the URLs
    config: Config
    secrets: Secrets
    scope: Scope  # trello_callback_url: <public URL>/hooks/trello/<name>
    channels: tuple[str, ...] = ()  # every Slack channel recorded for the alliance
    sandbox_url: str = ""


@dataclass(frozen=True)
class RoutingTable:
    """Routes by alliance name, and the ids each alliance owns."""

    routes: Mapping[str, Route] = field(default_factory=dict)
    boards: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    audiences: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, routes: Iterable[Route]) -> RoutingTable:
        """The table of ``routes``; an id two alliances claim routes to neither (logged)."""
        by_name = {route.name: route for route in routes}
        maps: dict[str, dict[str, str]] = {"boards": {}, "channels": {}, "audiences": {}}
        clashes: set[tuple[str, str]] = set()
        for route in by_name.values():
            owned = {"boards": [route.scope.board_id],
                     "channels": [route.scope.actions_channel, *route.channels],
                     "audiences": [route.scope.audience_id]}
            for kind, ids in owned.items():
                for remote_id in filter(None, ids):
                    other = maps[kind].setdefault(remote_id, route.name)
                    if other != route.name:
                        clashes.add((kind, remote_id))
                        log.warning("%s %s belongs to %s and %s: routed to neither", kind[:-1],
                                    remote_id, other, route.name)
        for kind, remote_id in clashes:
            maps[kind].pop(remote_id, None)
        return cls(by_name, maps["boards"], maps["channels"], maps["audiences"])

    def _get(self, ids: Mapping[str, str], remote_id: str) -> Route | None:
        name = ids.get(remote_id) if remote_id else None
        return self.routes.get(name) if name else None

    def board(self, board_id: str) -> Route | None:
        """The alliance of a Trello board."""
        return self._get(self.boards, board_id)

    def channel(self, channel_id: str) -> Route | None:
        """The alliance of a Slack channel."""
        return self._get(self.channels, channel_id)

    def audience(self, audience_id: str) -> Route | None:
        """The alliance of a Mailchimp audience."""
        return self._get(self.audiences, audience_id)

    def slack_secrets(self) -> set[str]:
        """Every alliance's Slack signing secret (one per Slack app)."""
        return {r.secrets.slack for r in self.routes.values() if r.secrets.slack}

    def mailchimp_secrets(self) -> set[str]:
        """Every alliance's Mailchimp webhook secret."""
        return {r.secrets.mailchimp for r in self.routes.values() if r.secrets.mailchimp}


# ---------------------------------------------------------------------- routing keys


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def trello_board(delivery: Mapping[str, Any]) -> str:
    """The board a Trello delivery is about (the webhook's model)."""
    return str(_dict(delivery.get("model")).get("id") or "")


def event_channel(payload: Mapping[str, Any]) -> str:
    """The channel of an Events API payload (a message's, or a reaction's item's)."""
    event = _dict(payload.get("event"))
    return str(event.get("channel") or _dict(event.get("item")).get("channel") or "")


def interaction_channel(payload: Any) -> str:
    """The channel of an interactivity payload (a button pressed on a message)."""
    payload = _dict(payload)
    return str(_dict(payload.get("channel")).get("id")
               or _dict(payload.get("container")).get("channel_id") or "")


# ---------------------------------------------------------------------- building routes


def alliance_secrets(config: Config, sandbox_url: str, fallback: Secrets | None) -> Secrets:
    """The secrets that verify the alliance's deliveries: the sandbox's own on a sandbox;
    else the config's (``trello.app_secret``...), else ``fallback`` (the environment's)."""
    if config.sandbox:
        if not sandbox_url:
            return Secrets("", "", "")  # no sandbox running: nothing can be verified
        issued = sandbox_credentials(sandbox_url)
        return Secrets(issued["trello"]["app_secret"], issued["slack"]["signing_secret"],
                       SANDBOX_MAILCHIMP_SECRET)
    return configured_secrets(config, fallback)


def read_route(name: str, config: Config, public_url: str,
               fallback: Secrets | None = None) -> Route | None:
    """The alliance's route from its state store; None until bootstrap recorded its board.

    Never creates a store: an alliance not bootstrapped yet has none (StateError, caught by
    the caller as "not routed yet").
    """
    if config.state_url:
        check_state_schema(config.state_url, config.state_schema, required=True)
    else:
        check_state_file(config.state_path, required=True)
    with StateStore.open(config.state_location, schema=config.state_schema) as store:
        board = store.get_resource("trello", "board", "board")
        if board is None:
            return None
        actions = store.get_resource("slack", "channel", "actions")
        channels = tuple(r.remote_id for r in store.list_resources("slack", "channel"))
        audience = store.get_resource("mailchimp", "audience", "audience")
        # Recorded under the Trello token's fingerprint by the sync (one row: others dropped).
        me = next(iter(store.list_resources("trello", "me")), None)
    found = running_sandbox(sandbox_data_dir(config)) if config.sandbox else None
    sandbox_url = found.url.rstrip("/") if found else ""
    scope = Scope(board_id=board.remote_id,
                  trello_callback_url=f"{public_url}{TRELLO_PATH}/{name}",
                  actions_channel=actions.remote_id if actions else "",
                  audience_id=audience.remote_id if audience else config.mailchimp.audience_id,
                  me_trello=me.remote_id if me else "",
                  me_slack=("", ""))  # our bot's own posts carry bot_id: dropped by that
    return Route(name, config, alliance_secrets(config, sandbox_url, fallback), scope,
                 channels, sandbox_url)


class Router:
    """The current :class:`RoutingTable` of a folder of alliances, kept fresh.

    ``on_new`` is called (outside the lock) with each route that was not in the previous
    table: the front registers its webhooks.
    """

    def __init__(self, folder: Path, public_url: str, *, fallback: Secrets | None = None,
                 every: float = 30.0,
                 on_new: Callable[[Route], None] | None = None) -> None:
        self.folder = folder
        self.public_url = public_url.rstrip("/")
        self.fallback = fallback
        self.every = every
        self.on_new = on_new
        self.table = RoutingTable()
        self._configs: dict[str, tuple[int, Config]] = {}
        self._mutex = threading.Lock()
        self._refreshed = float("-inf")

    def _config(self, name: str, path: Path) -> Config:
        stamp = path.stat().st_mtime_ns
        cached = self._configs.get(name)
        if cached is None or cached[0] != stamp:
            cached = self._configs[name] = (stamp, load_config(path))
        return cached[1]

    def refresh(self, *, missing_only: bool = False) -> RoutingTable:
        """Read the folder again: every alliance, or (``missing_only``) those not routed yet
        and those whose config file changed since their route was read (a removed config's
        route goes at the next complete read). A front for a thousand alliances re-reads a
        handful every 30 s, not a thousand state stores."""
        with self._mutex:
            self._refreshed = time.monotonic()
            old = self.table
            configs = alliance_configs(self.folder)
            routes: dict[str, Route] = dict(old.routes) if missing_only else {}
            for name, path in configs.items():
                if missing_only and name in routes and self._unchanged(name, path):
                    continue
                try:
                    route = read_route(name, self._config(name, path), self.public_url,
                                       self.fallback)
                except Exception as exc:  # one alliance's broken config or store: not routed
                    log.info("alliance %s not routed: %s", name, str(exc).splitlines()[0])
                    continue
                if route is not None:
                    routes[name] = route
            self.table = RoutingTable.of(routes.values())
        for name, route in self.table.routes.items():
            if name not in old.routes and self.on_new is not None:
                self.on_new(route)
        return self.table

    def _unchanged(self, name: str, path: Path) -> bool:
        cached = self._configs.get(name)
        try:
            return cached is not None and cached[0] == path.stat().st_mtime_ns
        except OSError:
            return False

    def current(self, *, missed: bool = False) -> RoutingTable:
        """The table; re-read for alliances not routed yet after a miss (rate-limited)."""
        if missed and time.monotonic() - self._refreshed >= MISS_EVERY:
            return self.refresh(missing_only=True)
        return self.table
