"""``mcm-sync go-live``: a trial on one sandbox taken to "real services" (a second sandbox).

The trial bootstraps, imports stakeholders and minutes, moves a meeting, and a member marks an
item done. The config is then switched to ``sandbox: false`` with the ``base_url`` settings and
the secrets of a second sandbox instance standing in for Trello, Slack and Mailchimp. Before
go-live every command is refused (the store holds the first sandbox's ids); after it, doctor,
bootstrap and sync work there, and what belongs to the alliance survived.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.identity import token_in
from connectors.sandbox.clients.testing import slack_client, trello_client
from connectors.sandbox.core.server import SandboxServer
from sync.core.config import load_config
from sync.state.store import StateStore
from tests.support.alliance import Alliance
from tests.support.minutes import MINUTES_YAML
from tests.support.paths import ROOT
from tests.support.stores import StoreTarget

FRIESLAND = ROOT / "playbooks/examples/stakeholders-friesland.csv"


@pytest.fixture
def trial(tmp_path: Path) -> Iterator[Alliance]:
    (tmp_path / "alliance").mkdir()
    made = Alliance(tmp_path / "alliance")
    yield made
    made.close()


@pytest.fixture
def real(tmp_path: Path) -> Iterator[SandboxServer]:
    """The second sandbox: the "real services" of this test."""
    server = SandboxServer(port=0, data_dir=tmp_path / "real-services", rate_limits=False)
    server.start()
    yield server
    server.stop()


def _point_at(trial: Alliance, real: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sandbox: false`` and the real services' addresses and secrets (as going-live says)."""
    issued = real.app.people.credentials.coordinator()
    monkeypatch.setenv("TRELLO_API_KEY", issued["trello"]["api_key"])
    monkeypatch.setenv("TRELLO_TOKEN", issued["trello"]["token"])
    monkeypatch.setenv("SLACK_BOT_TOKEN", issued["slack"]["bot_token"])
    monkeypatch.setenv("MAILCHIMP_API_KEY", issued["mailchimp"]["api_key"])
    base = real.url
    text = trial.config_path.read_text(encoding="utf-8").replace("sandbox: true",
                                                                 "sandbox: false")
    # The stand-in limits nothing (rate_limits=False): `pacing: none` saves the minute and a
    # half the vendors' pace would take (Trello 90 calls per 10 s, Slack a post a second);
    # the pacing itself is proved in tests/connectors/test_pacing.py.
    text = text.replace("  # base_url: http://127.0.0.1:8765/trello",
                        f"  base_url: {base}/trello\n  pacing: none\n ")
    text = text.replace("  # base_url: http://127.0.0.1:8765/slack/api/",
                        f"  base_url: {base}/slack/api/\n  pacing: none")
    text = text.replace("  # server: us6 ", f"  base_url: {base}/mailchimp/3.0\n  # ")
    trial.config_path.write_text(text, encoding="utf-8")
    trial.config = load_config(trial.config_path)


def _alliance_records(trial: Alliance) -> dict[str, object]:
    with trial.store() as store:
        return {
            "stakeholders": store._one("SELECT COUNT(*) FROM stakeholders")[0],
            "minutes": sorted(r.logical_key for r in store.list_resources("hub", "minutes")),
            "meeting dates": {r.logical_key: r.remote_id
                              for r in store.list_resources("hub", "meeting_date")},
            "items": {i.number: (i.status, i.title) for i in store.list_items()},
            "audit": store._one("SELECT COUNT(*) FROM audit")[0],
        }


def test_a_trial_goes_live_keeping_the_alliance_and_leaving_the_sandbox(
        trial: Alliance, real: SandboxServer, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    trial.cli("bootstrap")
    trial.cli("stakeholders", "import", str(FRIESLAND))
    minutes = tmp_path / "minutes.yaml"
    minutes.write_text(MINUTES_YAML, encoding="utf-8")
    trial.cli("minutes", "import", str(minutes))
    trial.cli("meeting", "schedule", "--date", "2=8-7-2027")
    trial.cli("sync")
    trial.cli("sandbox", "move", "FRL-3", "done")
    trial.cli("sync")
    before = _alliance_records(trial)
    assert before["items"]["FRL-3"][0] == "done" and before["minutes"] and before["meeting dates"]
    trial_board = trial.resource("trello", "board", "board")

    _point_at(trial, real, monkeypatch)
    refused = trial.cli("doctor", expect=2)
    assert "mcm-sync go-live" in refused.output

    preview = trial.json("go-live", "--dry-run")
    assert (preview["from"], preview["to"], preview["dry_run"]) == ("sandbox", "live", True)
    assert preview["set_aside"]["trello board ids"] == 1
    assert preview["set_aside"]["trello card ids"] == len(before["items"])
    assert preview["kept"]["stakeholders"] == before["stakeholders"]
    assert trial.resource("trello", "board", "board") == trial_board  # nothing written

    done = trial.cli("go-live")
    assert "copy of the old store:" in done.output
    backup = Path(done.output.split("copy of the old store: ")[1].split()[0])
    assert backup.exists() and backup.parent == trial.config.state_path.parent
    with sqlite3.connect(backup) as copy:  # the trial's ids, kept in the copy
        assert copy.execute("SELECT remote_id FROM resources WHERE kind = 'board'").fetchone() \
            == (trial_board,)
    with trial.store() as store:
        assert store.get_alliance().mode == "live" and store.get_alliance().went_live_at
        assert store.list_resources("trello") == [] and store.list_resources("slack") == []
        assert store.open_intents() == [] and store.get_bookmark("slack", "digest") is None
    assert _alliance_records(trial) == before
    again = trial.json("go-live")
    assert again["nothing_to_do"] is True

    doctor = trial.cli("doctor", expect=None)
    assert doctor.exit_code != 2 and "go-live" not in doctor.output, doctor.output
    trial.cli("bootstrap")
    trial.cli("sync")

    # Everything now lives on the "real" services, the trial's sandbox got nothing new.
    live_board = trial.resource("trello", "board", "board")
    assert live_board != trial_board
    issued = real.app.people.credentials.coordinator()
    trello = trello_client(real, token=issued["trello"]["token"])
    cards = trello.fetch_json(f"/boards/{live_board}/cards", query_params={"filter": "open"})
    done_list = trial.resource("trello", "list", "done")
    frl3 = [c for c in cards if c["name"].startswith("FRL-3 ")]
    assert len(frl3) == 1 and frl3[0]["idList"] == done_list  # its state came along
    assert len({token_in(c["desc"]) for c in cards}) == len(cards) == len(before["items"])
    slack = slack_client(real, token=issued["slack"]["bot_token"])
    actions = trial.resource("slack", "channel", "actions")
    posted = slack.conversations_history(channel=actions, limit=200)["messages"]
    assert len(posted) >= len(before["items"])
    with trial.store() as store:
        assert all(store.get_side(i.id, "slack") for i in store.list_items())
    after = _alliance_records(trial)
    assert after["stakeholders"] == before["stakeholders"]
    assert after["minutes"] == before["minutes"]
    assert after["meeting dates"] == before["meeting dates"]
    assert {n: s for n, (s, _) in after["items"].items()} == \
        {n: s for n, (s, _) in before["items"].items()}
    status = json.loads(trial.cli("status", "--json").stdout)
    assert status


def test_go_live_on_either_database_keeps_a_copy_and_moves_in_one_step(
        target: StoreTarget) -> None:
    """The store-level move (SQLite file, PostgreSQL schema): the copy holds the old ids."""
    import datetime as dt

    from sync.state.transfer import backup_location, go_live, survey

    with target.open() as store:
        store.bind_alliance("frl", "FRL", "sandbox")
        item = store.ensure_item(key="task:1", number="FRL-1", kind="task", title="Map",
                                 status="done", source="playbook")
        store.put_resource("trello", "board", "board", "b-trial")
        store.put_resource("hub", "minutes", "gap-workshop", "digest")
        store.put_side(item.id, "trello", "card-trial", {"status": "done"})
        store.put_side(item.id, "file", "", {"status": "done"})
        store.journal_open("run", "trello", "create_card", "tok")
        store.set_bookmark("slack", "digest", "2027-01-01")
        services = {"trello": "board", "slack": "chat", "mailchimp": "audience"}
        assert survey(store, sandbox=False, services=services).set_aside["trello card ids"] == 1
        now = dt.datetime(2027, 3, 1, 10, 15, tzinfo=dt.UTC)
        where = store._schema if target.backend == "postgresql" else None
        backup = backup_location(store.path, target.location, where, now)
        moved = go_live(store, sandbox=False, backup=backup, now=now, services=services)
        assert (moved.from_mode, moved.to_mode, moved.kept["minutes"]) == ("sandbox", "live", 1)
        assert store.get_alliance().mode == "live"
        assert store.get_resource("trello", "board", "board") is None
        assert store.get_resource("hub", "minutes", "gap-workshop") is not None
        assert store.get_side(item.id, "trello") is None
        assert store.get_side(item.id, "file") is not None
        assert store.get_item_by_number("FRL-1").status == "done"
        assert store.open_intents() == [] and store.get_bookmark("slack", "digest") is None
    location, schema, _ = backup
    with StateStore.open(location, schema=schema) as copy:
        assert copy.get_resource("trello", "board", "board").remote_id == "b-trial"
        assert copy.get_alliance().mode == "sandbox"


def test_go_live_sets_aside_the_ids_of_the_services_it_is_given_by_role(
        target: StoreTarget) -> None:
    """The store names no vendor: a chat service called ``teams`` (schema 8 holds any name)
    is set aside and shown by its role, and a name it is not given is left alone."""
    import datetime as dt

    from sync.state.transfer import backup_location, go_live, survey

    services = {"planka": "board", "teams": "chat"}
    with target.open() as store:
        store.bind_alliance("frl", "FRL", "sandbox")
        item = store.ensure_item(key="task:1", number="FRL-1", kind="task", title="Map",
                                 status="todo", source="teams")
        store.put_resource("planka", "board", "board", "p-trial")
        store.put_resource("teams", "channel", "general", "c-trial")
        store.put_resource("trello", "board", "board", "b-other")
        store.put_side(item.id, "planka", "card-1", {"status": "todo"})
        store.put_side(item.id, "teams", "msg-1", {"status": "todo"})
        found = survey(store, sandbox=False, services=services).set_aside
        assert (found["planka card ids"], found["teams message ids"]) == (1, 1)
        assert (found["planka board ids"], found["teams channel ids"]) == (1, 1)
        assert "trello board ids" not in found
        now = dt.datetime(2027, 3, 1, 10, 15, tzinfo=dt.UTC)
        where = store._schema if target.backend == "postgresql" else None
        go_live(store, sandbox=False, now=now, services=services,
                backup=backup_location(store.path, target.location, where, now))
        assert store.get_resource("teams", "channel", "general") is None
        assert store.get_resource("trello", "board", "board") is not None  # not given
        assert store.get_side(item.id, "teams") is None
        assert store.get_item_by_number("FRL-1").source == "teams"
