"""Mailchimp batch operations for :class:`connectors.mailchimp.MailchimpConnector`.

A batch is started with ``POST /batches``, polled with ``GET /batches/{id}`` until its status
is ``finished`` (pending -> preprocessing -> started -> finalizing -> finished), and its
per-operation outcomes are read from ``response_body_url``: a tar.gz holding JSON files, each
an array of ``{"operation_id", "status_code", "response"}`` where ``response`` is the
operation's own JSON answer as a string.

The start is a create: if its answer is lost, the batch is looked up (``GET /batches``) by
its number of operations and a submission time no earlier than our first attempt, among the
batches this connector has not already used, before the start is repeated. Repeating it would
do no harm for the member upserts and tag states the audience push sends (they are absolute),
but it would double the work of a 5,000-person push.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import tarfile
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import requests

from connectors.base import BatchOperationResult, BatchResult
from sync.errors import NotFoundError, RetriableRemoteError

FIRST_POLL = 1.0  # seconds before the first status read
MAX_POLL = 15.0  # the interval doubles up to this
MAX_WAIT = 1800.0  # give up waiting (the batch still runs on Mailchimp's side)
CLOCK_SKEW = 5.0  # seconds of tolerance between our clock and Mailchimp's submitted_at
DOWNLOAD_TIMEOUT = 120.0


T = TypeVar("T")


class BatchConnector(Protocol):
    """What a :class:`BatchRunner` uses of its connector (``MailchimpConnector``): the SDK
    client, the one call path, its error mapping and its sleep."""

    _client: Any
    _sleep: Callable[[float], None]

    def _call(
        self,
        operation: str,
        fn: Callable[[], T],
        *,
        create: bool = False,
        recover: Callable[[], Any] | None = None,
    ) -> T: ...

    def _error(self, operation: str, status: int | None, text: Any, create: bool) -> Exception:
        ...


class BatchRunner:
    """Start, poll and read batches through its connector's one call path."""

    def __init__(self, connector: BatchConnector) -> None:
        self._mc = connector
        self._used: set[str] = set()  # batch ids started or adopted by this connector

    def run(self, operations: list[dict[str, Any]]) -> BatchResult:
        """Run ``operations`` as one batch to the end (see the module docstring)."""
        batches = self._mc._client.batches
        started_at = dt.datetime.now(dt.UTC)
        count = len(operations)
        raw = self._mc._call(
            "start batch",
            lambda: batches.start({"operations": list(operations)}),
            create=True,
            recover=lambda: self._find_started(count, started_at),
        )
        batch_id = str(raw["id"])
        self._used.add(batch_id)
        status = self._wait(batch_id, raw)
        url = str(status.get("response_body_url") or "")
        results = self._results(url) if url else ()
        return BatchResult(
            id=batch_id,
            status=str(status.get("status") or ""),
            total_operations=int(status.get("total_operations") or 0),
            finished_operations=int(status.get("finished_operations") or 0),
            errored_operations=int(status.get("errored_operations") or 0),
            results=results,
        )

    def _wait(self, batch_id: str, status: dict[str, Any]) -> dict[str, Any]:
        """Poll until the batch is finished; the last status read."""
        batches = self._mc._client.batches
        waited, interval = 0.0, FIRST_POLL
        while status.get("status") != "finished":
            if waited >= MAX_WAIT:
                raise RetriableRemoteError(
                    "mailchimp",
                    f"batch {batch_id} not finished after {waited:.0f} s "
                    f"(status {status.get('status')})",
                    outcome_unknown=True,
                    hint="it is still running at Mailchimp; the next push will see its effect",
                )
            self._mc._sleep(interval)
            waited += interval
            interval = min(MAX_POLL, interval * 2)
            status = self._mc._call("read batch status", lambda: batches.status(batch_id))
        return status

    def _find_started(self, count: int, since: dt.datetime) -> dict[str, Any] | None:
        """The batch our lost start created, if Mailchimp lists one that fits."""
        batches = self._mc._client.batches
        try:
            page = self._mc._call("list batches", lambda: batches.list(count=1000))
        except NotFoundError:
            return None
        for batch in reversed(page.get("batches") or []):
            batch_id = str(batch.get("id") or "")
            if batch_id in self._used or int(batch.get("total_operations") or -1) != count:
                continue
            submitted = _parse_time(str(batch.get("submitted_at") or ""))
            if submitted and submitted >= since - dt.timedelta(seconds=CLOCK_SKEW):
                return dict(batch)
        return None

    def _results(self, url: str) -> tuple[BatchOperationResult, ...]:
        """The per-operation outcomes in the tar.gz at ``url``."""

        def fetch() -> bytes:
            # No credentials: on Mailchimp this is a pre-signed storage URL.
            try:
                answer = requests.get(url, timeout=DOWNLOAD_TIMEOUT)
            except requests.RequestException as exc:
                raise self._mc._error("download batch results", None, exc, False) from None
            if not answer.ok:
                raise self._mc._error("download batch results", answer.status_code, "", False)
            return answer.content

        data = self._mc._call("download batch results", fetch)
        return parse_results(data)


def parse_results(data: bytes) -> tuple[BatchOperationResult, ...]:
    """The operations' outcomes from a batch's tar.gz (JSON arrays in any number of files)."""
    results: list[BatchOperationResult] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            entries = json.loads(handle.read().decode("utf-8") or "[]")
            for entry in entries if isinstance(entries, list) else [entries]:
                response = entry.get("response")
                if isinstance(response, str):
                    with contextlib.suppress(ValueError):  # not JSON: kept as text
                        response = json.loads(response) if response else None
                results.append(
                    BatchOperationResult(
                        operation_id=str(entry.get("operation_id") or ""),
                        status_code=int(entry.get("status_code") or 0),
                        response=response,
                    )
                )
    return tuple(results)


def _parse_time(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
