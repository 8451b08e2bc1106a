"""Slack connector: :class:`connectors.roles.ChatService` on slack_sdk's ``WebClient``.

Every Web API call goes through one private method, :meth:`SlackConnector._call`, which
paces it (:class:`connectors.pacing.SlackPacer`: method tiers, one post per second per
channel), counts it (``calls``), runs it under the shared retry policy
(:mod:`connectors.retry`) and maps Slack's answers into :mod:`connectors.errors`:

- ``invalid_auth`` / ``not_authed`` / ``account_inactive`` / revoked or expired token ->
  :class:`AuthError` naming the setting to fix;
- ``*_not_found`` -> :class:`NotFoundError`;
- HTTP 429 -> :class:`RetriableRemoteError` with Slack's ``Retry-After`` (and the pacer holds
  that method back for as long);
- HTTP 5xx, Slack's transient codes and dropped connections -> :class:`RetriableRemoteError`,
  with ``outcome_unknown`` for the creates (``conversations.create``, ``chat.postMessage``);
- anything else -> :class:`FatalRemoteError`.

slack_sdk's own retry handlers are switched off (``retry_handlers=[]``): its default
``ConnectionErrorRetryHandler`` would silently re-send a ``chat.postMessage`` whose answer was
lost, posting the message twice, and a second retry layer would multiply attempts and break
the policy's time budget. So the policy of ``connectors.retry`` is the only retry layer, and
a create whose answer was lost is looked up (channel by name, message by the identity token in
its metadata) before it is ever repeated.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.base import ChatChannel, ChatMessage, HistoryPage
from connectors.errors import FatalRemoteError, NotFoundError, RemoteError
from connectors.identity import OUR_EVENT_TYPES, token_in_metadata
from connectors.masking import remember_secret
from connectors.pacing import Pacer, SlackPacer, with_margin
from connectors.rate_limits import (
    SLACK_DISTRIBUTED_LIMIT,
    SLACK_DISTRIBUTED_METHODS,
    SLACK_DISTRIBUTED_PAGE,
    Limit,
)
from connectors.retry import (
    DEFAULT_POLICY,
    Retrier,
    RetryPolicy,
    error_for_connection,
    redact,
    refuse_if_held,
)
from connectors.slack.shapes import (
    CREATES,
    SERVICE,
    as_channel,
    as_message,
    slack_error,
    ts_key,
)

PAGE = 200  # Slack advises at most 200 per page for cursor-paged methods
# conversations.history takes up to 999 per page (its reference: "Maximum of 999"; Slack's
# pagination guide advises 200 for methods in general). A scheduled sync reads the actions
# channel whole every run, so its pages are as large as the method allows: 3 calls at 2,000
# items instead of 10, against the method's 50 a minute (Tier 3). A distributed app (outside
# the Marketplace) gets 15 a page at one call a minute: its sync reads a page per run.
HISTORY_PAGE = 999
RECOVER_WINDOW = 200  # recent messages searched for a post whose answer was lost
APP_CLASSES = ("internal", "distributed")
# conversations.unarchive with a bot token: Slack's user_is_bot (or a token-type refusal).
BOT_CANNOT_UNARCHIVE = ("user_is_bot", "not_allowed_token_type")

T = TypeVar("T")
Response = dict[str, Any]


class SlackConnector:
    """The engine's Slack: channels, members, item messages with metadata, reactions."""

    service_name = "slack"  # stored and reported under this name (connectors.roles)

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        pacer: SlackPacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        app_class: str = "internal",
        distributed_window: float = SLACK_DISTRIBUTED_LIMIT.seconds,
        pacer_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``app_class``: ``distributed`` for an app commercially distributed outside the
        Marketplace: its history and replies reads come 15 a page, paced at one call per
        ``distributed_window`` seconds per method (Slack's 60; a test sandbox's may be
        shorter), with ``pacer_sleep`` (the one of ``pacer``)."""
        # retry_handlers=[]: see the module docstring (one retry layer, never a blind re-post).
        kwargs: dict[str, Any] = {"token": token, "retry_handlers": []}
        if base_url:
            kwargs["base_url"] = base_url
        self._client = WebClient(**kwargs)
        self._client.retry_handlers = []  # belt and braces: the SDK falls back on [] -> default
        self._token = token
        remember_secret(token)  # masked in every log line and error from now on
        self._retrier = Retrier(SERVICE, policy or DEFAULT_POLICY, sleep=sleep)
        self._pacer = pacer or SlackPacer(sleep=sleep)
        self._identity: tuple[str, str] | None = None
        self.calls = 0
        if app_class not in APP_CLASSES:
            raise ValueError(f"unknown Slack app class {app_class!r}")
        self.app_class = app_class
        self.distributed = app_class == "distributed"
        # A distributed app's one call a minute of history and of replies, each.
        self._slow = Pacer.of(with_margin(Limit(SLACK_DISTRIBUTED_LIMIT.calls,
                                                distributed_window)), sleep=pacer_sleep)
        self.history_page_size = SLACK_DISTRIBUTED_PAGE if self.distributed else HISTORY_PAGE
        self.replies_page_size = SLACK_DISTRIBUTED_PAGE if self.distributed else PAGE
        self.recover_window = SLACK_DISTRIBUTED_PAGE if self.distributed else RECOVER_WINDOW

    # ------------------------------------------------------------------ the one call path

    def _call(
        self,
        method: str,
        *,
        tolerate: Sequence[str] = (),
        recover: Callable[[], Any] | None = None,
        channel: str | None = None,
        sdk: Callable[..., Any] | None = None,
        **params: Any,
    ) -> Response:
        """Call Web API ``method`` (paced, counted, retried, errors mapped).

        ``tolerate``: error codes that mean "already so" and are returned as the answer
        (``{"ok": False, "error": code}``) instead of raised.
        """
        sdk_method = sdk or getattr(self._client, method.replace(".", "_"))
        params = {k: v for k, v in params.items() if v is not None}
        if channel is not None:
            params["channel"] = channel  # also the pacing key of chat.postMessage

        slow = self.distributed and method in SLACK_DISTRIBUTED_METHODS

        def once() -> Response:
            # Asked not to wait (connectors.retry.without_waiting), a call the pacing would
            # hold back is refused here, unsent, with how long until it could go.
            refuse_if_held(SERVICE, method, lambda: self.ready_in(method, channel))
            if slow:
                self._slow.acquire(method)
            else:
                self._pacer.acquire(method, channel)
            self.calls += 1
            try:
                return dict(sdk_method(**params).data)
            except SlackApiError as exc:
                answer = exc.response
                data = answer.data if isinstance(answer.data, dict) else {}
                if answer.status_code == 200 and data.get("error") in tolerate:
                    return dict(data)
                raise self._error(
                    method, answer.status_code, data, answer.headers, channel
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                raise error_for_connection(SERVICE, exc, write=method in CREATES) from None

        return self._retrier.call(once, operation=method, recover=recover)

    def ready_in(self, method: str, channel: str | None = None) -> float:
        """How long until one call of ``method`` (``channel``: the post's) could go under our
        pacing, a 429's hold included; books nothing and calls nothing (0.0: at once)."""
        if self.distributed and method in SLACK_DISTRIBUTED_METHODS:
            return self._slow.ready_in(method) if self._pacer.windows \
                else self._slow.held_for(method)
        return self._pacer.ready_in(method, channel)

    def _error(
        self,
        method: str,
        status: int,
        data: dict[str, Any],
        headers: dict[str, Any],
        channel: str | None,
    ) -> RemoteError:
        """The project's exception for a failed answer; after a 429 the pacer holds back."""
        error = slack_error(method, status, data, headers, clean=self._clean)
        after = getattr(error, "retry_after", None)
        if after is not None:
            if self.distributed and method in SLACK_DISTRIBUTED_METHODS:
                self._slow.pause(method, after)
            else:
                self._pacer.pause(method, after, channel)
        return error

    def _clean(self, text: str) -> str:
        """``text`` without our token, even in a form the generic redaction misses."""
        return redact(text.replace(self._token, "***") if self._token else text)

    def _pages(self, method: str, key: str, *, page: int = PAGE,
               **params: Any) -> list[dict[str, Any]]:
        """Every item of a cursor-paged method (``key``: the list in each answer), ``page``
        at a time."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            answer = self._call(method, cursor=cursor, limit=page, **params)
            items.extend(answer.get(key) or [])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return items

    # ------------------------------------------------------------------ identity, channels

    def identity(self) -> tuple[str, str]:
        """(user id, bot id) of our token (auth.test, asked once per connector: a token's
        identity never changes, and a worker keeps its connectors from run to run)."""
        if self._identity is None:
            answer = self._call("auth.test")
            self._identity = str(answer.get("user_id") or ""), str(answer.get("bot_id") or "")
        return self._identity

    def identity_key(self) -> str:
        """A fingerprint of our token: the first 16 hex digits of a SHA-256 of it (one-way, so
        it may be kept where the token may not; enough to tell a changed token)."""
        digest = hashlib.sha256(b"mcm-sync slack identity\0" + self._token.encode())
        return digest.hexdigest()[:16]

    def granted_scopes(self) -> list[str] | None:
        """The OAuth scopes of our token: Slack's ``x-oauth-scopes`` header on ``auth.test``
        (None when the answer has no such header, e.g. a legacy token)."""
        headers: dict[str, str] = {}

        def auth_test(**params: Any) -> Any:
            response = self._client.auth_test(**params)
            headers.update({k.lower(): str(v) for k, v in (response.headers or {}).items()})
            return response

        self._call("auth.test", sdk=auth_test)
        if "x-oauth-scopes" not in headers:
            return None
        return [s.strip() for s in headers["x-oauth-scopes"].split(",") if s.strip()]

    def list_channels(self) -> list[ChatChannel]:
        """Every public and private channel we can see, archived included (all pages)."""
        found = self._pages(
            "conversations.list",
            "channels",
            types="public_channel,private_channel",
            exclude_archived=False,
        )
        return [as_channel(c) for c in found]

    def find_channel(self, name: str) -> ChatChannel | None:
        """The channel called ``name``, archived ones included (unlike Terraform's lookup)."""
        return next((c for c in self.list_channels() if c.name == name), None)

    def create_channel(self, name: str) -> ChatChannel:
        """A new channel; an existing name (even an archived channel) is adopted, not an error.

        An adopted archived channel comes back with ``is_archived=True``: the caller decides
        to unarchive it.
        """
        answer = self._call(
            "conversations.create",
            tolerate=("name_taken",),
            recover=lambda: self.find_channel(name),
            name=name,
            is_private=False,
        )
        if isinstance(answer, ChatChannel):  # recovered after a lost answer
            return answer
        if answer.get("ok") is False:  # name_taken: adopt
            found = self.find_channel(name)
            if found is None:
                raise FatalRemoteError(
                    SERVICE,
                    f"conversations.create: name_taken, but no visible channel is called {name}",
                    hint="the channel may be private to others: invite the app or rename it",
                )
            return found
        return as_channel(answer["channel"])

    def archive(self, channel_id: str) -> None:
        """Archive a channel (already archived is fine)."""
        self._call("conversations.archive", tolerate=("already_archived",), channel=channel_id)

    def join(self, channel_id: str) -> None:
        """Join a public channel (already a member is fine)."""
        self._call("conversations.join", channel=channel_id)

    def unarchive(self, channel_id: str) -> bool:
        """Unarchive (already unarchived is fine); False when the token may not (bots)."""
        answer = self._call("conversations.unarchive", channel=channel_id,
                            tolerate=("not_archived", *BOT_CANNOT_UNARCHIVE))
        return answer.get("error") not in BOT_CANNOT_UNARCHIVE

    def set_topic(self, channel_id: str, topic: str) -> None:
        """Set the channel topic."""
        self._call("conversations.setTopic", channel=channel_id, topic=topic)

    def set_purpose(self, channel_id: str, purpose: str) -> None:
        """Set the channel purpose."""
        self._call("conversations.setPurpose", channel=channel_id, purpose=purpose)

    # ------------------------------------------------------------------ people

    def lookup_user(self, email: str) -> str | None:
        """The user id for an e-mail address, None if there is none."""
        answer = self._call("users.lookupByEmail", tolerate=("users_not_found",), email=email)
        if answer.get("ok") is False:
            return None
        return str((answer.get("user") or {}).get("id") or "") or None

    def invite(self, channel_id: str, user_ids: Sequence[str]) -> None:
        """Invite users (already in the channel, or ourselves, is fine)."""
        users = [u for u in dict.fromkeys(user_ids) if u]
        if not users:
            return
        tolerated = ("already_in_channel", "cant_invite_self")
        answer = self._call(
            "conversations.invite", tolerate=tolerated, channel=channel_id, users=users
        )
        if answer.get("ok") is False and len(users) > 1:
            # Slack refuses the whole list for one member already in: invite one by one.
            for user in users:
                self._call(
                    "conversations.invite", tolerate=tolerated, channel=channel_id, users=[user]
                )

    # ------------------------------------------------------------------ messages

    def post_message(
        self,
        channel_id: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
    ) -> ChatMessage:
        """Post a message (metadata: {"event_type", "event_payload"}).

        If the answer is lost, a message carrying an identity token in its metadata is looked
        up in the recent history (or the thread) and adopted; without a token the outcome is
        unknown and the post is not repeated (the error says so).
        """
        token = token_in_metadata(metadata, OUR_EVENT_TYPES)
        recover = None
        if token is not None:
            recover = lambda: self._find_posted(channel_id, token, thread_ts)  # noqa: E731
        answer = self._call(
            "chat.postMessage",
            recover=recover,
            channel=channel_id,
            text=text,
            blocks=blocks,
            metadata=metadata,
            thread_ts=thread_ts,
        )
        if isinstance(answer, ChatMessage):
            return answer
        message = dict(answer.get("message") or {})
        message.setdefault("ts", answer.get("ts"))
        message.setdefault("text", text)
        if metadata is not None:
            message.setdefault("metadata", metadata)
        if thread_ts:
            message.setdefault("thread_ts", thread_ts)
        return as_message(message)

    def _find_posted(
        self, channel_id: str, token: str, thread_ts: str | None
    ) -> ChatMessage | None:
        """The recent message carrying ``token`` in its metadata (one page), if any."""
        if thread_ts:
            answer = self._call(
                "conversations.replies",
                channel=channel_id,
                ts=thread_ts,
                limit=self.recover_window,
                include_all_metadata=True,
            )
        else:
            answer = self._call(
                "conversations.history",
                channel=channel_id,
                limit=self.recover_window,
                include_all_metadata=True,
            )
        for raw in answer.get("messages") or []:
            posted = token_in_metadata(raw.get("metadata"), OUR_EVENT_TYPES)
            if posted == token and raw.get("ts") != thread_ts:
                return as_message(raw)
        return None

    def update_message(
        self,
        channel_id: str,
        ts: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Replace a message's text (and blocks, metadata); absolute, so safe to repeat."""
        self._call(
            "chat.update", channel=channel_id, ts=ts, text=text, blocks=blocks, metadata=metadata
        )

    def delete_message(self, channel_id: str, ts: str) -> None:
        """Delete one of our messages; one already gone is fine (repeating is safe)."""
        with contextlib.suppress(NotFoundError):
            self._call("chat.delete", channel=channel_id, ts=ts)

    def pin(self, channel_id: str, ts: str) -> None:
        """Pin a message (already pinned is fine)."""
        self._call("pins.add", tolerate=("already_pinned",), channel=channel_id, timestamp=ts)

    def add_reaction(self, channel_id: str, ts: str, name: str) -> None:
        """React to a message (already reacted is fine); used by tests acting as a member."""
        self._call(
            "reactions.add",
            tolerate=("already_reacted",),
            channel=channel_id,
            timestamp=ts,
            name=name,
        )

    def history(self, channel_id: str, *, oldest: str | None = None) -> list[ChatMessage]:
        """Top-level messages after ``oldest``, oldest first, with reactions and metadata."""
        raw = self._pages(
            "conversations.history",
            "messages",
            page=self.history_page_size,
            channel=channel_id,
            oldest=oldest,
            include_all_metadata=True,
        )
        return _top_level(raw)

    def history_page(self, channel_id: str, *, before: str | None = None) -> HistoryPage:
        """One call: the newest page of top-level messages older than ``before`` (None: the
        newest of all), ``history_page_size`` of them, oldest first."""
        answer = self._call(
            "conversations.history",
            channel=channel_id,
            latest=before,
            limit=self.history_page_size,
            include_all_metadata=True,
        )
        raw = list(answer.get("messages") or [])
        lowest = min((str(m.get("ts") or "") for m in raw), key=ts_key, default="")
        return HistoryPage(_top_level(raw), bool(answer.get("has_more")), lowest)

    def message(self, channel_id: str, ts: str) -> ChatMessage | None:
        """One top-level message by its ts, with reactions and metadata (one call), or None.

        A distributed app reads it with ``reactions.get`` (Tier 3; its history is one call a
        minute): the message with every reaction, as ``serve`` needs it for each event. Its
        answer carries no metadata; the caller knows the message by its ts already."""
        if self.distributed:
            try:
                got = self._call("reactions.get", channel=channel_id, timestamp=ts, full=True)
            except NotFoundError:
                return None
            raw = dict(got.get("message") or {})
            if raw.get("ts") != ts or (raw.get("thread_ts") and raw.get("thread_ts") != ts):
                return None
            return as_message(raw)
        answer = self._call(
            "conversations.history",
            channel=channel_id,
            latest=ts,
            oldest=ts,
            inclusive=True,
            limit=1,
            include_all_metadata=True,
        )
        found = [m for m in answer.get("messages") or [] if m.get("ts") == ts]
        return as_message(found[0]) if found else None

    def replies(self, channel_id: str, ts: str, *, oldest: str | None = None) -> list[ChatMessage]:
        """Replies in a thread (without the parent), after ``oldest``, oldest first."""
        raw = self._pages(
            "conversations.replies",
            "messages",
            page=self.replies_page_size,
            channel=channel_id,
            ts=ts,
            oldest=oldest,
            include_all_metadata=True,
        )
        found = [as_message(m) for m in raw if m.get("ts") != ts]
        return sorted(found, key=lambda m: ts_key(m.ts))


def _top_level(raw: Sequence[dict[str, Any]]) -> list[ChatMessage]:
    """The top-level messages of a history answer, oldest first (thread replies broadcast to
    the channel show up in it too: they are not top-level)."""
    top = [m for m in raw if not m.get("thread_ts") or m.get("thread_ts") == m.get("ts")]
    return sorted((as_message(m) for m in top), key=lambda m: ts_key(m.ts))


if TYPE_CHECKING:  # the type checker holds that the connector is the chat service it stands for
    from connectors.roles import ChatService

    _ROLE: type[ChatService] = SlackConnector
