"""The state store bound to its alliance (issues 21 and 25): slug and kind of services checked.

Two configs side by side in one folder used to share ``.mcm-sync/state.db``: bootstrapping the
second overwrote the first's board, channel and audience records. Changing ``alliance.slug``
reposted every item message. A trial's store with ``sandbox: false`` met the real services
with the sandbox's ids ("board not visible", "invalid value for idMembers",
"channel_not_found"). Each of these is now refused with exit 2 and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli.main import cli
from sync.core.config import load_config
from sync.state.binding import LIVE, SANDBOX
from sync.state.schema import SCHEMA_VERSION, migrate, schema_version
from sync.state.store import StateStore
from tests.support.alliance import Alliance
from tests.support.stores import StoreTarget


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[Alliance]:
    made = Alliance(tmp_path)
    yield made
    made.close()


def _other_alliance(alliance: Alliance, name: str, slug: str, **replace: str) -> Path:
    """A second config beside the first (same folder, same default store)."""
    text = alliance.config_path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  slug: \S+", f"  slug: {slug}", text)
    text = re.sub(r"(?m)^  name: .*$", f"  name: {name}", text, count=1)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = alliance.folder / f"{slug}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(config: Path, *args: str, expect: int) -> str:
    result = CliRunner().invoke(cli, ["-c", str(config), *args])
    assert result.exit_code == expect, (result.output, result.exception)
    return result.output


def test_a_second_alliance_is_not_bootstrapped_into_the_first_ones_store(
        alliance: Alliance) -> None:
    """Issue 21 item 3: Roscommon bootstrapped, then Kalmar in the same folder and store."""
    alliance.cli("bootstrap")
    board = alliance.resource("trello", "board", "board")
    kalmar = _other_alliance(alliance, "Kalmar Newcomer Alliance", "kalmar")
    for command in (["bootstrap"], ["status"], ["sync", "--dry-run"], ["sync"], ["doctor"]):
        out = _run(kalmar, *command, expect=2)
        assert "belongs to alliance 'frl', not 'kalmar'" in out, command
        assert "state.path: .mcm-sync/<slug>/state.db" in out
    assert alliance.resource("trello", "board", "board") == board
    with alliance.store() as store:
        assert store.get_alliance().slug == "frl"
        assert not [i for i in store.list_items() if i.number.startswith("KALMA")]


def test_a_changed_slug_is_refused_instead_of_reposting_every_item(alliance: Alliance) -> None:
    alliance.cli("bootstrap")
    alliance.cli("sync")
    text = alliance.config_path.read_text(encoding="utf-8")
    alliance.config_path.write_text(text.replace("  slug: frl ", "  slug: fryslan "),
                                    encoding="utf-8")
    alliance.reset_calls()
    out = alliance.cli("sync", expect=2).output
    assert "belongs to alliance 'frl', not 'fryslan'" in out
    assert "put 'frl' back" in out
    assert sum(alliance.calls().values()) == 0  # refused before any remote call


def test_a_trial_store_is_refused_against_the_real_services_and_the_reverse(
        alliance: Alliance, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("TRELLO_API_KEY", "TRELLO_TOKEN", "SLACK_BOT_TOKEN", "MAILCHIMP_API_KEY"):
        monkeypatch.setenv(variable, "not-used-the-store-is-refused-first")
    alliance.cli("bootstrap")
    with alliance.store() as store:
        assert store.get_alliance().mode == SANDBOX
    live = _other_alliance(alliance, alliance.config.alliance.name, "frl",
                           **{"sandbox: true": "sandbox: false"})
    for command in (["doctor"], ["bootstrap"], ["bootstrap", "--adopt"], ["sync"], ["status"],
                    ["plan"]):
        out = _run(live, *command, expect=2)
        assert "was made on the sandbox, but the config points at the real services" in out
        assert "mcm-sync go-live" in out, command
    # The reverse: a store bound to the real services met with sandbox: true.
    with alliance.store() as store:
        store.set_mode(LIVE)
    out = alliance.cli("sync", expect=2).output
    assert "is bound to the real services, but the config points at the sandbox" in out
    assert "mcm-sync go-live" in out
    assert "--sandbox" not in out


def test_an_unbound_store_of_another_alliance_is_refused_by_its_item_numbers(
        alliance: Alliance) -> None:
    """A store bootstrapped before the binding has no alliance row: its numbers tell."""
    alliance.cli("bootstrap")
    with alliance.store() as store:
        store._conn.execute("DELETE FROM alliance")
    kalmar = _other_alliance(alliance, "Kalmar Newcomer Alliance", "kalmar")
    out = _run(kalmar, "sync", expect=2)
    assert "holds the items of another alliance (FRL-...), not those of 'kalmar'" in out
    alliance.cli("sync")  # its own alliance binds it again
    with alliance.store() as store:
        assert (store.get_alliance().slug, store.get_alliance().mode) == ("frl", SANDBOX)


def test_a_store_with_only_local_data_follows_the_config(tmp_path: Path) -> None:
    """Stakeholders imported before any bootstrap: no remote id, so no mode to keep."""
    with StateStore.open(tmp_path / "state.db") as store:
        store.bind_alliance("frl", "FRL", SANDBOX)
    from sync.state.binding import check_binding
    with StateStore.open(tmp_path / "state.db") as store:
        check_binding(store, slug="frl", name="FRL", prefix="FRL", sandbox=False, write=True)
        assert store.get_alliance().mode == LIVE


def test_init_names_the_store_after_the_slug(tmp_path: Path) -> None:
    common = ["--region", "Somewhere", "--country", "IE", "--language", "en", "--start-date",
              "2027-01-15", "--duration", "18", "--coordinator-name", "Aoife Byrne",
              "--coordinator-email", "aoife@example.org", "--organisation", "County Council"]
    for slug in ("rsc", "kalmar"):
        _run(tmp_path / f"{slug}.yaml", "init", "--name", f"Alliance {slug}", "--slug", slug,
             *common, expect=0)
    paths = {load_config(tmp_path / f"{s}.yaml").state_path for s in ("rsc", "kalmar")}
    assert paths == {tmp_path / ".mcm-sync/rsc/state.db", tmp_path / ".mcm-sync/kalmar/state.db"}


@pytest.mark.parametrize("command", [["worker", "--once"], ["serve"]])
def test_worker_and_front_refuse_two_configs_on_one_store(alliance: Alliance,
                                                          command: list[str]) -> None:
    folder = alliance.folder
    _other_alliance(alliance, "Kalmar Newcomer Alliance", "kalmar")
    result = CliRunner().invoke(cli, [*command, "--alliances", str(folder)])
    assert result.exit_code == 2, result.output
    assert "kalmar.yaml and mcm-sync.yaml name one state store" in result.output
    assert "state.path: .mcm-sync/<slug>/state.db" in result.output


def test_migration_to_version_7_keeps_the_alliance_and_leaves_its_mode_to_infer(
        target: StoreTarget) -> None:
    conn = target.database()
    assert migrate(conn, target=6) == 0
    conn.execute("INSERT INTO alliance (slug, name, created_at) VALUES ('frl', 'FRL', 't')")
    conn.execute("INSERT INTO resources (service, kind, logical_key, remote_id, updated_at)"
                 " VALUES ('trello', 'board', 'board', 'b1', 't')")
    conn.close()
    with target.open() as store:
        assert store.schema_version == SCHEMA_VERSION  # 7 and every later one
        found = store.get_alliance()
        assert (found.slug, found.name, found.mode, found.went_live_at) == ("frl", "FRL", "", "")
        from sync.state.binding import check_binding, recorded_mode
        assert recorded_mode(store, None) == ""  # no sandbox folder beside it: not known
        check_binding(store, slug="frl", name="FRL", prefix="FRL", sandbox=False, write=True)
        assert store.get_alliance().mode == LIVE
        assert schema_version(store._conn) == SCHEMA_VERSION


def test_a_version_6_trial_store_is_known_by_the_sandbox_folder_beside_it(
        tmp_path: Path) -> None:
    from sync.core.errors import StateError
    from sync.state.binding import check_binding
    from sync.state.db import Database
    path = tmp_path / ".mcm-sync" / "state.db"
    conn = Database.sqlite(path)
    migrate(conn, target=6)
    conn.execute("INSERT INTO resources (service, kind, logical_key, remote_id, updated_at)"
                 " VALUES ('trello', 'board', 'board', 'b1', 't')")
    conn.close()
    sandbox = tmp_path / ".mcm-sync" / "sandbox"
    sandbox.mkdir()
    (sandbox / "trello.json").write_text("{}", encoding="utf-8")
    with StateStore.open(path) as store, pytest.raises(StateError) as refused:
        check_binding(store, slug="frl", name="FRL", prefix="FRL", sandbox=False, write=True,
                      sandbox_dir=sandbox)
    assert "made on the sandbox" in str(refused.value)
