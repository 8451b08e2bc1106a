"""Mailchimp emulator handlers: batch operations and their downloadable results.

``POST /batches`` queues the operations and answers ``pending``, as Mailchimp does. The batch
then moves on in real time, as Mailchimp's do: ``pending`` -> ``preprocessing`` -> ``started``
-> ``finalizing`` -> ``finished`` over ``batch_seconds`` (a quarter each; the emulator's
setting, ``POST /_sandbox/settings {"mailchimp_batch_seconds": s}``, 0 for tests that must
not wait). Its operations run, against the emulator's own routes and handlers (each
operation's error kept to itself), when the batch is first seen ``finalizing`` or later by
any request. A finished batch has its counts and a ``response_body_url``: a sandbox URL that
needs no credentials (like Mailchimp's pre-signed storage links) and serves a tar.gz of JSON
files, each an array of ``{"status_code", "operation_id", "response"}`` where ``response`` is
the operation's own answer as a string.
"""

from __future__ import annotations

import io
import json
import secrets
import tarfile
from typing import Any

from werkzeug import Request, Response
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.test import EnvironBuilder

from connectors.sandbox.mailchimp.base import (
    NOT_FOUND_DETAIL,
    SERVICE,
    MailchimpError,
    alnum_id,
    no_content,
    not_found,
    page,
    public,
    read_json,
    validate,
)
from connectors.sandbox.mailchimp.data import MailchimpData
from connectors.sandbox.mailchimp.models import BatchIn, OperationIn

API_PREFIX = "/3.0"
RESULTS_PATH = "/batch-results/"
RESULTS_PER_FILE = 500  # Mailchimp splits results over several JSON files too
BATCH_SECONDS = 1.0  # default time from submission to finished
PHASES = ("pending", "preprocessing", "started", "finalizing")


class BatchHandlers(MailchimpData):
    """Batches: start (run), status, list, cancel, results download."""

    mount: str
    batch_seconds: float = BATCH_SECONDS

    def run_operation(self, request: Request, identity: Any) -> Response:
        """One request against the emulator's routes (no faults, stats or limits)."""
        raise NotImplementedError  # the emulator class provides it

    def _results_url(self, request: Request, doc: dict[str, Any]) -> str:
        base = request.host_url.rstrip("/") + self.mount
        return f"{base}{RESULTS_PATH}{doc['id']}.tar.gz?sig={doc['_sig']}"

    def _view(self, request: Request, doc: dict[str, Any]) -> dict[str, Any]:
        view = public(doc)
        view["response_body_url"] = (
            self._results_url(request, doc) if doc["status"] == "finished" else ""
        )
        return view

    def _operation(self, identity: Any, op: OperationIn) -> dict[str, Any]:
        """Run one operation; its result entry (errors included, never raised)."""
        path = op.path if op.path.startswith("/") else "/" + op.path
        builder = EnvironBuilder(
            path=API_PREFIX + path,
            method=op.method,
            query_string={k: str(v) for k, v in op.params.items()},
            data=op.body.encode("utf-8"),
            content_type="application/json",
        )
        try:
            answer = self.run_operation(builder.get_request(), identity)
        finally:
            builder.close()
        return {
            "status_code": answer.status_code,
            "operation_id": op.operation_id,
            "response": answer.get_data(as_text=True),
        }

    def handle_batches_create(self, request: Request, identity: Any) -> dict[str, Any]:
        """POST /batches: queue the operations; answer ``pending`` as Mailchimp does."""
        body = validate(BatchIn, read_json(request))
        batch_id = alnum_id()
        doc = {
            "id": batch_id,
            "status": "pending",
            "total_operations": len(body.operations),
            "finished_operations": 0,
            "errored_operations": 0,
            "submitted_at": self.stamp(),
            "_submitted": self.clock(),
            "_sig": secrets.token_hex(16),
        }
        self.store.insert(SERVICE, "batch", batch_id, doc)
        operations = [op.model_dump() for op in body.operations]
        self.store.insert(SERVICE, "batch_queue", batch_id,
                          {"operations": operations, "identity": identity.person["email"]},
                          batch_id)
        if self.batch_seconds <= 0:
            self.advance_batches(identity)
        # (Mailchimp sends completed_at "" here, not the date-time its schema says: left out.)
        queued = {key: value for key, value in public(doc).items() if key != "completed_at"}
        return {**queued, "response_body_url": ""}

    def advance_batches(self, identity: Any) -> None:
        """Move every unfinished batch to the phase its age says; run those that are due."""
        for doc in self.store.list(SERVICE, "batch"):
            if doc["status"] != "finished":
                self._advance(doc, identity)

    def _advance(self, doc: dict[str, Any], identity: Any) -> None:
        age = self.clock() - float(doc.get("_submitted") or 0)
        span = max(self.batch_seconds, 0.0)
        phase = len(PHASES) if span == 0 else min(len(PHASES), int(age / (span / len(PHASES))))
        if phase >= len(PHASES) - 1:  # finalizing or later: the operations have run
            queue = self.store.get(SERVICE, "batch_queue", doc["id"])
            if queue is not None:
                ops = [OperationIn.model_validate(op) for op in queue["operations"]]
                results = [self._operation(identity, op) for op in ops]
                self.store.delete(SERVICE, "batch_queue", doc["id"])
                self.store.insert(SERVICE, "batch_results", doc["id"], {"results": results},
                                  doc["id"])
                doc["finished_operations"] = len(results)
                doc["errored_operations"] = sum(1 for r in results if r["status_code"] >= 400)
        if phase >= len(PHASES):
            doc["status"] = "finished"
            doc["completed_at"] = self.stamp()
        else:
            doc["status"] = PHASES[phase]
        self.store.update(SERVICE, "batch", doc["id"], doc)

    def handle_batches_index(self, request: Request, identity: Any) -> dict[str, Any]:
        """GET /batches, paged."""
        docs = self.store.list(SERVICE, "batch")
        views = [self._view(request, d) for d in page(request, docs)]
        return {"batches": views, "total_items": len(docs)}

    def handle_batch_get(self, request: Request, identity: Any, batch_id: str) -> dict[str, Any]:
        """GET /batches/{batch_id}: status and counts."""
        doc = self.store.get(SERVICE, "batch", batch_id)
        if doc is None:
            raise not_found()
        if doc["status"] != "finished":
            self._advance(doc, identity)
        return self._view(request, doc)

    def handle_batch_delete(self, request: Request, identity: Any, batch_id: str) -> Response:
        """DELETE /batches/{batch_id}: cancel (here: forget) the batch."""
        if self.store.get(SERVICE, "batch", batch_id) is None:
            raise not_found()
        self.store.delete(SERVICE, "batch", batch_id)
        for kind in ("batch_results", "batch_queue"):
            if self.store.get(SERVICE, kind, batch_id) is not None:
                self.store.delete(SERVICE, kind, batch_id)
        return no_content()

    def handle_batch_results(self, request: Request, identity: Any, batch_id: str) -> Response:
        """GET <response_body_url>: the tar.gz of results (the ``sig`` is the only check)."""
        doc = self.store.get(SERVICE, "batch", batch_id)
        if doc is None or not secrets.compare_digest(request.args.get("sig", ""), doc["_sig"]):
            raise MailchimpError(404, "Resource Not Found", NOT_FOUND_DETAIL)
        stored = self.store.get(SERVICE, "batch_results", batch_id) or {"results": []}
        return Response(
            results_archive(batch_id, stored["results"]),
            content_type="application/x-gzip",
            headers={"Content-Disposition": f'attachment; filename="{batch_id}.tar.gz"'},
        )


def results_archive(batch_id: str, results: list[dict[str, Any]]) -> bytes:
    """A tar.gz with the results as JSON arrays of at most ``RESULTS_PER_FILE`` entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        chunks = [
            results[i : i + RESULTS_PER_FILE] for i in range(0, len(results), RESULTS_PER_FILE)
        ] or [[]]
        for number, chunk in enumerate(chunks):
            data = json.dumps(chunk).encode("utf-8")
            info = tarfile.TarInfo(f"{batch_id}/{batch_id}-{number}.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


ROUTING_ERRORS = (NotFound, MethodNotAllowed, RequestRedirect)
