"""One sync run end to end: record the run, read-decide-apply, post the digest when due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.base import ChatMessage
from connectors.errors import RemoteError
from connectors.identity import OUR_EVENT_TYPES, make_token, note_metadata, token_in_metadata
from connectors.roles import AudienceService, BoardService, ChatService
from playbooks.messages import messages
from playbooks.model import ActionRow, Playbook
from sync.core.checks import parse_duration
from sync.core.config import Config
from sync.core.mrkdwn import escape
from sync.engine.read import forget_board_identity, forget_chat_identity
from sync.engine.run import SyncResult, due_for_full, prepare, run_sync
from sync.plenary.meetings import meeting_schedule, post_meeting_reminders
from sync.reports.digest import digest_due, digest_text
from sync.state.journal import Journal
from sync.state.store import StateStore

# The kind our digests carry in their Slack metadata.
DIGEST = "digest"
if TYPE_CHECKING:  # the audience push is imported only when there is one to make
    from sync.audience.apply import PushResult


@dataclass
class SyncOutcome:
    """A finished run: the engine's result, whether a digest went out, open conflicts."""

    result: SyncResult
    digest_posted: bool
    unresolved: int
    audience: PushResult | None = None
    reminders: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``mcm-sync sync --json``."""
        r = self.result
        return {
            "run": r.run_id, "full": r.full, "changes": r.changes,
            "created_items": r.created_items, "writes": r.writes, "comments": r.comments,
            "conflicts": [c.__dict__ for c in r.conflicts], "digest_posted": self.digest_posted,
            "unresolved_conflicts": self.unresolved,
            "audience": self.audience.as_dict() if self.audience else None,
            "meeting_reminders": self.reminders,
            "duplicates_removed": r.duplicates_removed, "quiet": r.quiet,
            "card_copies": r.card_copies, "slack_read": r.slack_read,
        }


def sync_once(config: Config, book: Playbook, rows: Sequence[ActionRow], board: BoardService,
              chat: ChatService, store: StateStore, *, full: bool = False,
              now: dt.datetime | None = None,
              audience: AudienceService | None = None,
              progress: Callable[[int, int, str], None] | None = None,
              inputs: str = "") -> SyncOutcome:
    """Run one sync; a failure leaves the run recorded as failed and the bookmarks unmoved.

    With ``audience``, the stakeholder database is also pushed to the audience (only the
    people who changed; unsubscribes pulled back first), when there is one to push.
    ``inputs``: the digest of config, playbook and rows if the caller keeps one.
    """
    now = now or dt.datetime.now(dt.UTC)
    # Its row is written with the run's first write: a quiet run writes one statement.
    run = store.start_run("sync", deferred=True)
    try:
        ctx = prepare(config, book, rows, board, chat, store, now=now, inputs=inputs)
        ctx.progress = progress
        full = full or due_for_full(store, parse_duration(config.sync.full_reconcile_every,
                                                          "sync.full_reconcile_every"), now,
                                    ctx.names)
        result = run_sync(ctx, full=full)
        posted = _post_digest(config, book, rows, chat, store, now, run.id)
        reminders = post_meeting_reminders(config, book, chat, store, now, run_id=run.id)
        pushed = _push_audience(config, book, audience, store) if audience else None
    except BaseException as failure:
        store.finish_run(run.id, "failed")
        if isinstance(failure, RemoteError):
            # A token revoked, replaced or moved to another workspace shows as a failed call:
            # the next run asks the services who we are instead of trusting the records.
            forget_chat_identity(store, chat)
            forget_board_identity(store, board)
        raise
    if result.quiet and not posted and not reminders and not (pushed and pushed.write_calls):
        # A quiet run wrote nothing: it keeps no row (a worker makes one every few seconds
        # per alliance), only the time of the last quiet check.
        store.drop_quiet_run(run.id)
    else:
        store.finish_run(run.id, "ok")
    unresolved = len(store.list_conflicts(unresolved=True))
    return SyncOutcome(result, posted, unresolved, pushed, [r.key for r in reminders])


def _push_audience(config: Config, book: Playbook, mailchimp: AudienceService,
                   store: StateStore) -> PushResult | None:
    """The stakeholder push of ``mcm-sync stakeholders push``, when there is anyone to push."""
    from sync.audience.apply import push
    from sync.audience.store import StakeholderStore

    found = store.get_resource("mailchimp", "audience", "audience")
    audience_id = found.remote_id if found else config.mailchimp.audience_id
    if not audience_id or not StakeholderStore(store).has_people():
        return None
    return push(store, mailchimp, audience_id, alliance_slug=config.alliance.slug,
                sector_titles=dict(book.facts.sectors))


def _post_digest(config: Config, book: Playbook, rows: Sequence[ActionRow], chat: ChatService,
                 store: StateStore, now: dt.datetime, run_id: str) -> bool:
    """Post the digest when it is due, once: a run that died after posting adopts it.

    Its token comes from the previous digest's time (the bookmark that has not moved yet), so
    a repeated run finds the digest it already posted (journal, then the channel's history by
    the token in its metadata) instead of posting a second one.
    """
    every = parse_duration(config.sync.digest_every, "sync.digest_every")
    previous = store.get_bookmark(chat.service_name, "digest")
    if not digest_due(previous, every, now):
        return False
    general = store.get_resource(chat.service_name, "channel", "general")
    if general is None:
        return False
    if previous is None:
        # No bookmark: the first digest ever, or a state store rebuilt by bootstrap after it
        # was lost. Our last digest in the channel says which (and when the next is due).
        previous = last_digest_time(config, book, chat, general.remote_id, now - every)
        if previous is not None:
            store.set_bookmark(chat.service_name, "digest", previous)
            if not digest_due(previous, every, now):
                return False
    text = escape(digest_text(config.alliance.name, book, store.list_items(), now.date(), rows,
                              meeting_schedule(config, book, store)))
    token = make_token(config.alliance.slug, f"digest:{previous or 'first'}")

    def find() -> ChatMessage | None:
        return next((m for m in chat.history(general.remote_id)
                     if token_in_metadata(m.metadata, OUR_EVENT_TYPES) == token), None)

    Journal(store, run_id).append(
        chat.service_name, "post_digest", token,
        lambda: chat.post_message(general.remote_id, text,
                                   metadata=note_metadata(token, kind=DIGEST,
                                                          at=now.isoformat())),
        lambda posted: posted.ts, find=find)
    store.set_bookmark(chat.service_name, "digest", now.isoformat())
    return True


def last_digest_time(config: Config, book: Playbook, slack: ChatService, channel_id: str,
                     since: dt.datetime) -> str | None:
    """When our newest digest in ``channel_id`` posted after ``since`` went out, or None.

    Only digests newer than one interval matter (an older one does not stop the next), so
    only that much of the channel is read. A digest carries its kind and time in its metadata;
    one posted before it did is known by its title line.
    """
    title = messages(book.language)["digest_title"].split("{alliance}")[0] + config.alliance.name
    newest: str | None = None
    for message in slack.history(channel_id, oldest=f"{since.timestamp():.6f}"):
        if token_in_metadata(message.metadata, OUR_EVENT_TYPES) is None:
            continue  # not ours
        payload = (message.metadata or {}).get("event_payload") or {}
        moment = dt.datetime.fromtimestamp(float(message.ts), dt.UTC)
        # As aware (or naive) as the run's own clock, so the two compare.
        posted = (moment if since.tzinfo else moment.replace(tzinfo=None)).isoformat()
        if isinstance(payload, dict) and payload.get("kind") == DIGEST:
            posted = str(payload.get("at") or posted)
        elif not message.text.startswith(title):
            continue
        newest = max(newest or posted, posted)
    return newest
