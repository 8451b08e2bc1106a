"""The effect layer of the audience sync: pull statuses back, then send the planned writes.

:func:`push` reads what changed in Mailchimp since the last pull (so an unsubscribe there is
known before anything is sent), plans with :func:`sync.audience.plan.plan_push`, and sends: one
member PUT and one tags POST per person when there are few, Mailchimp batch operations when
there are many (all member PUTs first, then the tags of the members that exist, because the
operations of one batch may run in any order). A person is marked as pushed (fingerprint and
status) only after both calls succeeded, so a failed or dropped call is simply repeated by the
next push: every write is an absolute upsert, safe to repeat, never a duplicate.

A person Mailchimp refuses (problem+json, e.g. a fake or forgotten address) is reported with
the reason and does not stop the others; a service failure that retries could not overcome
stops the run with what was done so far recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.roles import AudienceService
from sync.audience.plan import MemberWrite, PushPlan, RemoteStatus, plan_push, pull_updates
from sync.audience.store import COMPLIANCE, StakeholderStore
from sync.core.errors import AuthError, FatalRemoteError
from sync.state.store import StateStore

BATCH_THRESHOLD = 20  # more writes than this go through batch operations
BATCH_OPERATIONS = 500  # operations per batch request
BOOKMARK_SIDE = "mailchimp"
# Mailchimp's title for an address the API may never subscribe again (the person unsubscribed
# themselves, bounced, or was cleaned): asking again would fail the same way at every push.
COMPLIANCE_TITLE = "Member In Compliance State"


@dataclass
class PushResult:
    """What a push did: statuses pulled, people sent, refusals, write calls made, time."""

    plan: PushPlan
    pulled: list[RemoteStatus] = field(default_factory=list)
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, Mailchimp's reason)
    write_calls: int = 0
    batches: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (addresses only for the people Mailchimp refused)."""
        return {
            "dry_run": self.dry_run,
            "planned": self.plan.counts(),
            "pulled": [{"key": p.key, "status": p.status} for p in self.pulled],
            "sent": self.sent,
            "failed": [{"email": email, "reason": reason} for email, reason in self.failed],
            "write_calls": self.write_calls,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
        }


def problem_text(response: Any) -> str:
    """Mailchimp's problem+json as one line: title, detail and field errors."""
    if isinstance(response, str):
        try:
            response = json.loads(response)
        except ValueError:
            return str(response)[:300]
    if not isinstance(response, Mapping):
        return str(response)[:300]
    parts = [str(response.get("title") or ""), str(response.get("detail") or "")]
    parts += [f"{e.get('field')}: {e.get('message')}" for e in response.get("errors") or []]
    return " - ".join(p for p in parts if p) or "refused"


def pull(
    people: StakeholderStore, store: StateStore, mailchimp: AudienceService, audience_id: str
) -> list[RemoteStatus]:
    """Read members changed since the last pull; note unsubscribes, cleans and re-subscribes."""
    scope = f"members:{audience_id}"
    since = store.get_bookmark(BOOKMARK_SIDE, scope)
    members = mailchimp.members(audience_id, since=since)
    updates = pull_updates(people.people(), members)
    with store.transaction():
        for update in updates:
            people.mark_remote(update.key, update.status, update.changed_at)
        newest = max((m.last_changed for m in members if m.last_changed), default=since)
        if newest and newest != since:
            store.set_bookmark(BOOKMARK_SIDE, scope, newest)
    return updates


def tag_body(write: MemberWrite) -> dict[str, Any]:
    """The body of the tags POST for one person."""
    tags = [
        {"name": name, "status": "active" if on else "inactive"} for name, on in write.tags.items()
    ]
    return {"tags": tags, "is_syncing": False}


def _one_by_one(
    writes: Sequence[MemberWrite],
    people: StakeholderStore,
    mailchimp: AudienceService,
    audience_id: str,
    result: PushResult,
) -> None:
    for write in writes:
        try:
            result.write_calls += 1
            mailchimp.upsert_member(audience_id, write.email, dict(write.body))
            result.write_calls += 1
            mailchimp.set_tags(audience_id, write.email, dict(write.tags))
        except AuthError:
            raise  # our credentials, not this person: stop
        except FatalRemoteError as exc:
            # One refused person (bad address, forgotten address) must not stop the others.
            _refused(people, result, write, str(exc))
            continue
        people.mark_pushed(write.key, write.fingerprint, write.status)
        result.sent += 1


def _outcome(raw: Any) -> tuple[str, int, Any]:
    """(operation id, HTTP status, response) of one batch result, dict or object."""
    if isinstance(raw, Mapping):
        return str(raw["operation_id"]), int(raw["status_code"]), raw.get("response")
    return str(raw.operation_id), int(raw.status_code), raw.response


def _run_batch(
    mailchimp: AudienceService, operations: list[dict[str, Any]], result: PushResult
) -> dict[str, tuple[int, Any]]:
    outcomes: dict[str, tuple[int, Any]] = {}
    for start in range(0, len(operations), BATCH_OPERATIONS):
        chunk = operations[start : start + BATCH_OPERATIONS]
        result.write_calls += 1
        result.batches += 1
        for raw in mailchimp.run_batch(chunk):
            op_id, status, response = _outcome(raw)
            outcomes[op_id] = (status, response)
    return outcomes


def _batched(
    writes: Sequence[MemberWrite],
    people: StakeholderStore,
    mailchimp: AudienceService,
    audience_id: str,
    result: PushResult,
) -> None:
    def operation(method: str, path: str, body: Mapping[str, Any], op_id: str) -> dict[str, Any]:
        return {
            "method": method,
            "path": path,
            "operation_id": op_id,
            "body": json.dumps(body, ensure_ascii=False),
        }

    base = f"/lists/{audience_id}/members"
    # Operation ids carry the index only: nothing personal goes into Mailchimp's batch logs.
    members = [
        operation("PUT", f"{base}/{w.subscriber_hash}", w.body, f"m{i}")
        for i, w in enumerate(writes)
    ]
    answers = _run_batch(mailchimp, members, result)
    exists: list[int] = []
    for index, write in enumerate(writes):
        status, response = answers.get(f"m{index}", (0, "no answer in the batch results"))
        if 200 <= status < 300:
            exists.append(index)
        else:
            _refused(people, result, write, problem_text(response))
    tags = [
        operation("POST", f"{base}/{writes[i].subscriber_hash}/tags", tag_body(writes[i]), f"t{i}")
        for i in exists
    ]
    answers = _run_batch(mailchimp, tags, result) if tags else {}
    with people.transaction():
        for index in exists:
            write = writes[index]
            status, response = answers.get(f"t{index}", (0, "no answer in the batch results"))
            if 200 <= status < 300:
                people.mark_pushed(write.key, write.fingerprint, write.status)
                result.sent += 1
            else:
                _refused(people, result, write, problem_text(response))


def _refused(people: StakeholderStore, result: PushResult, write: MemberWrite, reason: str) -> None:
    """Report one person Mailchimp refused; one in compliance state is never asked again."""
    result.failed.append((write.email, reason))
    people.mark_error(write.key, reason)
    if COMPLIANCE_TITLE in reason:
        people.mark_remote(write.key, COMPLIANCE, dt.datetime.now(dt.UTC).isoformat())


def push(
    store: StateStore,
    mailchimp: AudienceService,
    audience_id: str,
    *,
    alliance_slug: str,
    sector_titles: Mapping[str, str],
    dry_run: bool = False,
    batch_threshold: int = BATCH_THRESHOLD,
    clock: Callable[[], float] = time.perf_counter,
) -> PushResult:
    """Bring the audience in step with the stakeholder database (see the module docstring)."""
    started = clock()
    people = StakeholderStore(store)
    if dry_run:
        # Read what Mailchimp says, but change nothing, not even locally.
        records = people.people()
        pulled = pull_updates(
            records,
            mailchimp.members(
                audience_id, since=store.get_bookmark(BOOKMARK_SIDE, f"members:{audience_id}")
            ),
        )
        seen = {p.key: p for p in pulled}
        records = [
            replace(r, remote_status=seen[r.key].status) if r.key in seen else r for r in records
        ]
    else:
        pulled = pull(people, store, mailchimp, audience_id)
        records = people.people()
    erased = people.erased_among(r.email for r in records if r.email)
    left = people.left_addresses.among(r.email for r in records if r.email)
    plan = plan_push(
        records, alliance_slug=alliance_slug, sector_titles=sector_titles, erased=erased,
        left=left,
    )
    result = PushResult(plan, pulled=pulled, dry_run=dry_run)
    if not dry_run and plan.writes:
        if len(plan.writes) > batch_threshold:
            _batched(plan.writes, people, mailchimp, audience_id, result)
        else:
            _one_by_one(plan.writes, people, mailchimp, audience_id, result)
    result.seconds = clock() - started
    return result
