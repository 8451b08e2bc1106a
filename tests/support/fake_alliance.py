"""The example alliance on the in-memory fakes: bootstrap, sync, fork, and what exists.

The counterpart of ``tests.support.alliance`` (which runs the CLI against the HTTP sandbox) for the
tests that run the engine hundreds of times: crash-point enumeration and the state machine.
A "process" is a fresh :class:`~sync.state.store.StateStore` opened from the file and fresh engine
objects; the remote data (the :class:`~tests.support.fakes.FakeWorld`) outlives it, as the vendors'
data outlives a killed run. :meth:`FakeAlliance.fork` copies both, so a scenario set up once
can be crashed at every write.

The state store goes to ``/dev/shm`` where there is one: SQLite's ``synchronous=FULL`` makes a
commit cost an fsync, a third of a millisecond on disk and nothing in memory. With ``pg_url``
it is a schema of its own on the test session's PostgreSQL server instead (a fork copies the
rows into a new schema).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from connectors.identity import token_in, token_in_metadata
from playbooks import load_action_plan, load_playbook
from sync.bootstrap.run import BootstrapResult, Services, run_bootstrap
from sync.core.config import load_config
from sync.runner import SyncOutcome, sync_once
from sync.state.store import StateStore
from sync.state.transfer import copy_store
from tests.support.alliance import example_config
from tests.support.fakes import FakeWorld
from tests.support.paths import ROOT
from tests.support.stores import unique_schema

EXAMPLE_PLAN = ROOT / "playbooks/examples/frl-action-plan.yaml"
SHM = Path("/dev/shm")


def scratch_dir() -> Path:
    """A fresh folder in memory if the system has one (the caller removes it)."""
    return Path(tempfile.mkdtemp(prefix="mcm-fake-", dir=SHM if SHM.is_dir() else None))


class FakeAlliance:
    """The example alliance's config, playbook, action plan, state file and fake services."""

    def __init__(self, folder: Path, world: FakeWorld | None = None,
                 like: FakeAlliance | None = None, *, pg_url: str | None = None) -> None:
        """The alliance in ``folder``; ``like``: reuse its parsed config, playbook and rows
        (only the state store differs), which saves parsing YAML hundreds of times.
        ``pg_url``: the state store on that PostgreSQL server (``like``'s server if it has one).
        """
        self.folder = folder
        self.plan_path = folder / "action-plan.yaml"
        self.pg_url = pg_url if pg_url is not None else (like.pg_url if like else None)
        if like is None:
            self.config = load_config(example_config(folder))
            self.book = load_playbook(self.config.alliance.language)
            if not self.plan_path.exists():
                shutil.copyfile(EXAMPLE_PLAN, self.plan_path)
            self.rows = self._load_rows()
        else:
            self.config = like.config
            self.book = like.book
            shutil.copyfile(like.plan_path, self.plan_path)
            self.rows = list(like.rows)
        state: dict[str, Any] = {"path": str(folder / "state.db")} if like else {}
        if self.pg_url:
            state.update(url=SecretStr(self.pg_url), schema_name=unique_schema())
        if state:
            self.config = self.config.model_copy(
                update={"state": self.config.state.model_copy(update=state)})
        self.world = world or FakeWorld()
        self.now = like.now if like is not None else dt.datetime(2027, 2, 1, 9, tzinfo=dt.UTC)

    # ------------------------------------------------------------------ runs

    def store(self) -> StateStore:
        """A fresh handle on the state file (a new process's view)."""
        return StateStore.open(self.config.state_location, schema=self.config.state_schema)

    def services(self) -> Services:
        """The three fakes as the bootstrap's services."""
        return Services(self.world.trello, self.world.slack, self.world.mailchimp)

    def bootstrap(self) -> BootstrapResult:
        """One bootstrap run in a fresh process state."""
        with self.store() as store:
            return run_bootstrap(self.config, self.book, self.rows, self.services(), store)

    def sync(self, *, full: bool = False) -> SyncOutcome:
        """One sync run in a fresh process state, five minutes after the previous one."""
        self.now += dt.timedelta(minutes=5)
        with self.store() as store:
            return sync_once(self.config, self.book, self.rows, self.world.trello,
                             self.world.slack, store, full=full, now=self.now)

    def fork(self, folder: Path) -> FakeAlliance:
        """A copy of this alliance (state file, action plan, remote data) in ``folder``."""
        twin = FakeAlliance(folder, copy.deepcopy(self.world), like=self)
        if self.pg_url:
            with self.store() as source, twin.store() as target:
                copy_store(source, target)
            return twin
        for suffix in ("", "-wal"):
            source = Path(f"{self.config.state_path}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{twin.config.state_path}{suffix}")
        return twin

    def fresh(self, folder: Path) -> FakeAlliance:
        """The same alliance with no state and no remote data yet, in ``folder``.

        On SQLite the state file starts as a copy of an empty store made once per process
        (the schema's migrations take ~25 ms, a crash enumeration makes hundreds of fresh
        alliances); opening it is what a first run does after a ``mcm-sync init``.
        """
        made = FakeAlliance(folder, like=self)
        if not made.pg_url:
            shutil.copyfile(_empty_store(), made.config.state_path)
        return made

    # ------------------------------------------------------------------ the coordinator

    def _load_rows(self) -> list[Any]:
        return list(load_action_plan(self.plan_path, self.book, self.config.people).rows)

    def edit_row(self, number: str, **changes: Any) -> None:
        """Edit one action-plan row in the file (as the coordinator does) and reload it."""
        data = yaml.safe_load(self.plan_path.read_text(encoding="utf-8"))
        row = next(r for r in data["rows"] if str(r["number"]) == number)
        row.update(changes)
        self.plan_path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                  encoding="utf-8")
        self.rows = self._load_rows()

    # ------------------------------------------------------------------ what exists

    def resource(self, service: str, kind: str, key: str) -> str:
        """A recorded remote id (board, list, channel...)."""
        with self.store() as store:
            found = store.get_resource(service, kind, key)
        assert found is not None, (service, kind, key)
        return str(found.remote_id)

    def inventory(self) -> dict[str, Any]:
        """Everything the fakes hold, keyed by names and tokens (not ids), duplicates visible."""
        return remote_inventory(self.world)

    def state(self) -> dict[str, Any]:
        """The state store's items, sides, resources and conflicts, keyed by tokens/names."""
        with self.store() as store:
            return state_summary(store, self.world)


_EMPTY: list[Path] = []


def _empty_store() -> Path:
    """A migrated SQLite state store with nothing in it (made once per process)."""
    if not _EMPTY:
        path = scratch_dir() / "empty.db"
        StateStore.open(path).close()
        _EMPTY.append(path)
    return _EMPTY[0]


_SYNCED: list[FakeAlliance] = []


def synced() -> FakeAlliance:
    """The example alliance bootstrapped and synced once (made once per process): fork it."""
    if not _SYNCED:
        alliance = FakeAlliance(scratch_dir())
        alliance.bootstrap()
        alliance.sync()
        _SYNCED.append(alliance)
    return _SYNCED[0]


@contextlib.contextmanager
def synced_copy() -> Iterator[FakeAlliance]:
    """A fork of :func:`synced` in a scratch folder of its own, removed afterwards (what a
    test that changes the alliance starts from)."""
    made = synced().fork(scratch_dir())
    try:
        yield made
    finally:
        shutil.rmtree(made.folder, ignore_errors=True)


def bot_comments(alliance: FakeAlliance, card_id: str) -> list[str]:
    """Our comments on a card, oldest first."""
    return [a["data"]["text"] for a in alliance.world.trello.actions
            if a["type"] == "commentCard" and a["card_id"] == card_id
            and a["member_id"] == alliance.world.bot.trello_id]


def remote_inventory(world: FakeWorld) -> dict[str, Any]:
    """See :meth:`FakeAlliance.inventory`."""
    trello, slack, mailchimp = world.trello, world.slack, world.mailchimp
    boards = trello.find_boards()
    lists = {lst["id"]: lst["name"] for lst in trello.lists.values()}
    labels = {lab["id"]: lab["name"] for lab in trello.labels.values()}
    people = {p.trello_id: p.email for p in world.people.values()}
    cards: dict[str, list[Any]] = {}
    for card in trello.cards_by_id.values():
        checklists = sorted((c["name"], tuple(i.name for i in c["items"]))
                            for c in trello.checklists.values() if c["card_id"] == card["id"])
        cards.setdefault(token_in(card["desc"]) or "untokened", []).append({
            "name": card["name"], "list": lists[card["list_id"]], "closed": card["closed"],
            "due": card["due"], "members": sorted(people[m] for m in card["member_ids"]),
            "labels": sorted(labels[x] for x in card["label_ids"]), "checklists": checklists,
        })
    channels = {c["name"]: c for c in slack.channels.values()}
    top: dict[str, list[str]] = {}
    threads: dict[str, list[str]] = {}
    for channel in channels.values():
        parents = {m["ts"]: token_in_metadata(m["metadata"]) or m["ts"]
                   for m in slack.messages[channel["id"]] if not m["thread_ts"]}
        for message in slack.messages[channel["id"]]:
            if not message["thread_ts"]:
                token = token_in_metadata(message["metadata"]) or "-"
                top.setdefault(f"{channel['name']}:{token}", []).append(message["text"])
            elif message["user"] == world.bot.slack_id:
                # What we wrote in a thread, by how many times: a note made twice shows.
                parent = parents.get(message["thread_ts"], message["thread_ts"])
                threads.setdefault(f"{channel['name']}:{parent}", []).append(message["text"])
    card_tokens = {c["id"]: token_in(c["desc"]) or c["name"] for c in trello.cards_by_id.values()}
    comments: dict[str, list[str]] = {}
    for action in trello.actions:
        if action["type"] == "commentCard" and action["member_id"] == world.bot.trello_id:
            card = card_tokens.get(action.get("card_id", ""), "?")
            comments.setdefault(str(card), []).append(action["data"].get("text", ""))
    return {
        "boards": sorted((b.name, token_in(b.desc)) for b in boards),
        "lists": sorted(lists.values()),
        "labels": sorted(labels.values()),
        "board_members": sorted(people[m] for b in trello.boards.values() for m in b["members"]),
        "cards": cards,
        "channels": sorted((c["name"], c["archived"], c["topic"], c["purpose"],
                            len(c["members"]), len(c["pins"])) for c in channels.values()),
        "messages": top,
        "threads": {k: sorted(v) for k, v in threads.items()},
        "comments": {k: sorted(v) for k, v in comments.items()},
        "audiences": sorted((a["name"], tuple(sorted(a["merge_fields"])), tuple(sorted(a["tags"])))
                            for a in mailchimp.audiences.values()),
    }


def state_summary(store: StateStore, world: FakeWorld) -> dict[str, Any]:
    """See :meth:`FakeAlliance.state`."""
    card_tokens = {c["id"]: token_in(c["desc"]) for c in world.trello.cards_by_id.values()}
    items = {}
    for item in store.list_items():
        trello_side = store.get_side(item.id, "trello")
        slack_side = store.get_side(item.id, "slack")
        items[item.key] = {
            "number": item.number, "kind": item.kind, "title": item.title, "step": item.step,
            "owner": item.owner, "due": item.due, "status": item.status,
            "card": card_tokens.get(trello_side.remote_id, "missing") if trello_side else None,
            "trello_base": trello_side.base if trello_side else None,
            "message": bool(slack_side),
            "slack_status": slack_side.base.get("status") if slack_side else None,
        }
    resources = Counter((r.service, r.kind) for r in store.list_resources())
    conflicts = sorted((c.field, c.winner, str(c.loser_value)) for c in store.list_conflicts())
    return {"items": items, "resources": dict(resources), "conflicts": conflicts,
            "open_intents": len(store.open_intents())}
