"""Whose store is this, and made against which services? Checked by every command.

A state store belongs to one alliance (its slug, recorded in the ``alliance`` table) and to
the kind of services its remote ids came from: ``sandbox`` (the embedded or a running
sandbox) or ``live`` (the real Trello, Slack and Mailchimp, or whatever the config's
``base_url`` settings point at). Every command opening the store checks both before anything
else (:func:`check_binding`), because the ids in the store mean nothing elsewhere:

- another slug: the store is another alliance's (two configs on one file) or the slug was
  changed (which would repost every item message under new numbers);
- another mode: the store holds the sandbox's board, channel and audience ids while the config
  points at the real services (or the reverse); the real services would answer "board not
  visible", "invalid value for idMembers", "channel_not_found". ``mcm-sync go-live`` moves
  the store over, keeping what belongs to the alliance (``sync.state.transfer``).

A store with no alliance row yet (made by a command that does not bind, or by a version
before the binding) is bound by the first writing command, unless its items carry another
alliance's number prefix. A store of schema version 6 or older has no mode: it is taken to be
a sandbox store when the sandbox's data folder lies beside it (the trial's layout); otherwise
the config's mode is recorded. A store that holds no remote id yet is bound to the config's.
"""

from __future__ import annotations

from pathlib import Path

from sync.core.errors import StateError
from sync.state.store import StateStore

SANDBOX = "sandbox"
LIVE = "live"


def mode_of(sandbox: bool) -> str:
    """``sandbox`` or ``live``: the kind of services a run with this switch reaches."""
    return SANDBOX if sandbox else LIVE


def holds_remote_ids(store: StateStore) -> bool:
    """Whether the store records any remote object (a board, a channel, an audience...)."""
    # "hub" resources (minutes, meeting dates, reserved numbers) are the alliance's own.
    return store._one("SELECT 1 FROM resources WHERE service <> 'hub' LIMIT 1") is not None


def foreign_prefix(store: StateStore, prefix: str) -> str:
    """Another alliance's item-number prefix found in the store ("" if none): how an unbound
    store made before the binding shows whose it is (``RSC-3`` is not Kalmar's)."""
    row = store._one("SELECT number FROM items WHERE number NOT LIKE ? LIMIT 1", (f"{prefix}-%",))
    return str(row["number"]).partition("-")[0] if row else ""


def inferred_mode(store: StateStore, sandbox_dir: Path | None) -> str:
    """The mode of a store that has remote ids but no recorded mode (schema 6 or older):
    ``sandbox`` when the sandbox's data lies beside it (a trial), else "" (not known: the
    config's is taken and recorded; nothing refuses a store on a guess)."""
    if sandbox_dir is not None and sandbox_dir.is_dir() and any(sandbox_dir.iterdir()):
        return SANDBOX
    return ""


def recorded_mode(store: StateStore, sandbox_dir: Path | None) -> str:
    """The mode the store's remote ids belong to ("" if it holds none)."""
    if not holds_remote_ids(store):
        return ""
    found = store.get_alliance()
    if found is not None and found.mode:
        return found.mode
    return inferred_mode(store, sandbox_dir)


def mode_mismatch(store: StateStore, recorded: str, wanted: str) -> StateError:
    """The error for a store made against the other kind of services."""
    if recorded == SANDBOX:
        text = (f"state store {store.path} was made on the sandbox, but the config points at "
                "the real services (sandbox: false)")
    else:
        text = (f"state store {store.path} is bound to the real services, but the config "
                "points at the sandbox (sandbox: true)")
    return StateError(text, hint="run `mcm-sync go-live --dry-run`, then `mcm-sync go-live`: it "
                      "keeps the stakeholders, minutes, meetings and action plan and sets the "
                      f"{recorded} ids aside (or set sandbox: {str(recorded == SANDBOX).lower()} "
                      "again)")


def check_owner(store: StateStore, *, slug: str, prefix: str) -> None:
    """Refuse (StateError, exit 2) a store that belongs to another alliance than ``slug``."""
    found = store.get_alliance()
    if found is None:
        foreign = foreign_prefix(store, prefix)
        if foreign:
            raise StateError(
                f"state store {store.path} holds the items of another alliance ({foreign}-...),"
                f" not those of {slug!r} ({prefix}-...)",
                hint="give each alliance its own store: state.path: .mcm-sync/<slug>/state.db "
                "in each config (or state.schema on PostgreSQL)")
    elif found.slug != slug:
        raise StateError(
            f"state store {store.path} belongs to alliance {found.slug!r}, not {slug!r}",
            hint=f"if you changed alliance.slug, put {found.slug!r} back (the slug is the "
            "store's identity); if this is another alliance, give it its own store: "
            "state.path: .mcm-sync/<slug>/state.db (or state.schema on PostgreSQL)")


def check_binding(store: StateStore, *, slug: str, name: str, prefix: str, sandbox: bool,
                  write: bool, sandbox_dir: Path | None = None) -> None:
    """Refuse (StateError, exit 2) a store of another alliance or of the other services.

    ``write``: the command writes, so an unbound store is bound now (slug, name and mode).
    """
    wanted = mode_of(sandbox)
    found = store.get_alliance()
    if found is not None and (found.slug, found.name, found.mode) == (slug, name, wanted):
        # Bound to this alliance and these services already (every run of a worker after
        # its first): nothing below could refuse it or write (one query, not seven).
        return
    check_owner(store, slug=slug, prefix=prefix)
    recorded = recorded_mode(store, sandbox_dir)
    if recorded and recorded != wanted:
        raise mode_mismatch(store, recorded, wanted)
    if write:
        bound = store.bind_alliance(slug, name, wanted)
        if bound.mode != wanted:  # bound to the other mode, but holding no remote id yet
            store.set_mode(wanted, went_live_at=bound.went_live_at)
