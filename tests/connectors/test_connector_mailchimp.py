"""MailchimpConnector against the real sandbox, through mailchimp_marketing: every method,
faults, batches, erasure and errors."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import connectors.mailchimp.connector as mailchimp_module
from connectors.mailchimp.batch import parse_results
from connectors.mailchimp.connector import MailchimpConnector, data_centre, subscriber_hash
from connectors.sandbox.clients import testing
from connectors.sandbox.clients.testing import admin
from sync.core.errors import (
    AuthError,
    ConnectorSettingError,
    ExitStatus,
    FatalRemoteError,
    NotFoundError,
    exit_status,
)

server_module = pytest.importorskip(
    "connectors.sandbox.core.server", reason="sandbox not built yet"
)

API_KEY = "0123456789abcdef0123456789abcdef-us1"  # well-formed but not issued: refused
AUDIENCE = {
    "name": "Friesland alliance newsletter",
    "contact": {"company": "FRL", "address1": "Street 1", "city": "Leeuwarden", "country": "NL"},
    "permission_reminder": "You follow the Friesland alliance.",
    "campaign_defaults": {
        "from_name": "FRL",
        "from_email": "news@example.org",
        "subject": "News",
        "language": "en",
    },
    "email_type_option": False,
}


class Sleeps(list[float]):
    """A sleep that records instead of sleeping (retry waits and batch polls)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = server_module.SandboxServer(port=0, rate_limits=False, data_dir=tmp_path)
    # Batches finish at once here (these tests' sleeps are fake); the real pace is tested in
    # test_batch_is_polled_with_backoff_until_finished.
    server.app.service("mailchimp").batch_seconds = 0
    server.start()
    yield server
    server.stop()


def fault(sandbox: Any, method: str, path: str, mode: str, **spec: Any) -> None:
    body = {"service": "mailchimp", "method": method, "path": path, "mode": mode, "count": 1}
    admin(sandbox, "POST", "/_sandbox/faults", {**body, **spec})


def connect(
    sandbox: Any, key: str | None = None, sleeps: Sleeps | None = None
) -> MailchimpConnector:
    key = testing.issued(sandbox)["mailchimp"]["api_key"] if key is None else key
    return MailchimpConnector(
        key, base_url=sandbox.base_urls["mailchimp"], sleep=Sleeps() if sleeps is None else sleeps
    )


@pytest.fixture
def mc(sandbox: Any) -> MailchimpConnector:
    return connect(sandbox)


@pytest.fixture
def audience(mc: MailchimpConnector) -> str:
    return mc.create_audience(AUDIENCE).id


def test_data_centre_and_host() -> None:
    assert data_centre("abc-def-us6") == "us6"
    assert subscriber_hash(" Ana@Example.org") == subscriber_hash("ana@example.org")
    real = MailchimpConnector("key-us6")
    assert real.server == "us6"
    assert real._client.api_client.host == "https://server.api.mailchimp.com/3.0"
    # A base_url is used verbatim: the SDK's replace('server', dc) is switched off.
    local = MailchimpConnector("key-us6", base_url="http://myserver.local/3.0/")
    assert local._client.api_client.host == "http://myserver.local/3.0"
    assert local._client.api_client.server == ""
    with pytest.raises(ConnectorSettingError) as caught:
        MailchimpConnector("nodatacentre")
    assert "mailchimp.api_key" in caught.value.lines()[0]
    assert exit_status(caught.value) == ExitStatus.USAGE  # a user's error, exit 2
    assert "nodatacentre" not in caught.value.lines()[0]


def test_audiences(mc: MailchimpConnector) -> None:
    created = mc.create_audience(AUDIENCE)
    assert created.name == AUDIENCE["name"]
    assert mc.get_audience(created.id) == created
    assert [a.id for a in mc.list_audiences()] == [created.id]
    with pytest.raises(NotFoundError):
        mc.get_audience("nope000000")


def test_merge_fields_and_tags(mc: MailchimpConnector, audience: str) -> None:
    mc.create_merge_field(audience, "ORG", "Organisation", "text")
    mc.create_merge_field(audience, "INFLUENCE", "Influence", "text")
    fields = mc.merge_fields(audience)
    assert fields["ORG"] == "Organisation" and fields["INFLUENCE"] == "Influence"
    mc.create_tag(audience, "sector:social_action")
    mc.create_tag(audience, "alliance-member")
    assert mc.tags(audience) == {"sector:social_action", "alliance-member"}


def test_dropped_audience_create_yields_exactly_one(sandbox: Any, mc: MailchimpConnector) -> None:
    fault(sandbox, "POST", "/3.0/lists", "drop_after_apply")
    calls = mc.calls
    created = mc.create_audience(AUDIENCE)
    assert mc.calls - calls == 2  # the dropped create + one list read that finds it
    assert [a.id for a in mc.list_audiences()] == [created.id]


def test_dropped_merge_field_and_tag_creates(
    sandbox: Any, mc: MailchimpConnector, audience: str
) -> None:
    fault(sandbox, "POST", "/3.0/lists/*/merge-fields", "drop_after_apply")
    mc.create_merge_field(audience, "ROLE", "Role", "text")
    fault(sandbox, "POST", "/3.0/lists/*/segments", "drop_after_apply")
    mc.create_tag(audience, "influence:high")
    assert list(mc.merge_fields(audience)).count("ROLE") == 1
    assert mc.tags(audience) == {"influence:high"}


def test_members_upsert_tags_and_since(mc: MailchimpConnector, audience: str) -> None:
    ana = mc.upsert_member(
        audience,
        "Ana@Example.org",
        status_if_new="subscribed",
        merge_fields={"FNAME": "Ana"},
        language="nl",
    )
    assert ana.status == "subscribed" and ana.subscriber_hash == subscriber_hash("ana@example.org")
    # The body form of sync.audience.apply: an existing member keeps its status.
    body = {
        "email_address": "ana@example.org",
        "status_if_new": "unsubscribed",
        "merge_fields": {"FNAME": "Ana B."},
    }
    again = mc.upsert_member(audience, "ana@example.org", body)
    assert again.status == "subscribed" and again.merge_fields["FNAME"] == "Ana B."
    mc.upsert_member(
        audience,
        "bo@example.org",
        status_if_new="subscribed",
        status="unsubscribed",
        merge_fields={},
    )
    mc.set_tags(audience, "ana@example.org", ["sector:social", "member"], [])
    mc.set_tags(audience, "ana@example.org", ["influence:high"], ["member"])
    mc.set_tags(audience, "bo@example.org", {"member": True})
    found = {m.email.lower(): m for m in mc.members(audience)}
    assert set(found["ana@example.org"].tags) == {"sector:social", "influence:high"}
    assert found["bo@example.org"].status == "unsubscribed"
    assert found["bo@example.org"].tags == ("member",)
    latest = max(m.last_changed for m in found.values())
    assert mc.members(audience, since_last_changed="2999-01-01T00:00:00+00:00") == []
    assert len(mc.members(audience, since=latest[:10] + "T00:00:00+00:00")) == 2


def test_members_reads_every_page(
    monkeypatch: pytest.MonkeyPatch, mc: MailchimpConnector, audience: str
) -> None:
    monkeypatch.setattr(mailchimp_module, "PAGE", 4)
    for i in range(10):
        mc.upsert_member(audience, f"p{i}@example.org", status_if_new="subscribed", merge_fields={})
    calls = mc.calls
    assert len(mc.members(audience)) == 10
    assert mc.calls - calls == 3  # 4 + 4 + 2


def test_batch_of_upserts_reports_every_operation(sandbox: Any, audience: str) -> None:
    operations = [
        {
            "method": "PUT",
            "path": f"/lists/{audience}/members/{subscriber_hash(f'p{i}@example.org')}",
            "operation_id": f"m{i}",
            "body": json.dumps(
                {"email_address": f"p{i}@example.org", "status_if_new": "subscribed"}
            ),
        }
        for i in range(50)
    ]
    operations.append(
        {
            "method": "PUT",
            "path": f"/lists/{audience}/members/{subscriber_hash('not-an-address')}",
            "operation_id": "bad",
            "body": json.dumps({"email_address": "not-an-address", "status_if_new": "subscribed"}),
        }
    )
    sleeps = Sleeps()
    mc = connect(sandbox, sleeps=sleeps)
    result = mc.run_batch(operations)
    assert mc.calls == 3  # start, one status poll, the results download
    assert sleeps == [1.0]  # the first poll interval
    assert result.status == "finished" and result.total_operations == 51
    assert result.errored_operations == 1
    outcomes = {r.operation_id: r for r in result}
    assert len(outcomes) == 51
    assert all(outcomes[f"m{i}"].ok for i in range(50))
    assert [e.operation_id for e in result.errors] == ["bad"]
    assert result.errors[0].status_code == 400 and result.errors[0].message
    assert len(mc.members(audience)) == 50


def test_batch_is_polled_with_backoff_until_finished(sandbox: Any, audience: str) -> None:
    """The sandbox's batches take real seconds, as Mailchimp's: the connector waits, doubling
    its interval, and reads the results once the batch is finished."""
    sandbox.app.service("mailchimp").batch_seconds = 1.0
    waited: list[float] = []

    def sleep(seconds: float) -> None:  # really waits (a third), records the interval
        waited.append(seconds)
        time.sleep(seconds / 3)

    operations = [{"method": "PUT", "operation_id": "x",
                   "path": f"/lists/{audience}/members/{subscriber_hash('x@example.org')}",
                   "body": json.dumps({"email_address": "x@example.org",
                                       "status_if_new": "subscribed"})}]
    result = connect(sandbox, sleeps=sleep).run_batch(operations)  # type: ignore[arg-type]
    assert result.status == "finished" and [r.status_code for r in result] == [200]
    assert waited[0] == 1.0  # not finished at once: the connector had to wait
    assert all(b == min(15.0, 2 * a) for a, b in zip(waited, waited[1:], strict=False))


def test_dropped_batch_start_is_found_not_repeated(
    sandbox: Any, mc: MailchimpConnector, audience: str
) -> None:
    operations = [
        {
            "method": "PUT",
            "path": f"/lists/{audience}/members/{subscriber_hash('x@example.org')}",
            "operation_id": "x",
            "body": json.dumps({"email_address": "x@example.org", "status_if_new": "subscribed"}),
        }
    ]
    fault(sandbox, "POST", "/3.0/batches", "drop_after_apply")
    result = mc.run_batch(operations)
    assert [r.operation_id for r in result] == ["x"]
    stats = admin(sandbox, "GET", "/_sandbox/stats")["mailchimp"]
    assert sum(stats.get("POST /3.0/batches", {}).values()) == 1


def test_parse_results_of_an_archive() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, entries in {
            "a.json": [{"operation_id": "1", "status_code": 200, "response": '{"id": "h"}'}],
            "b.json": [
                {
                    "operation_id": "2",
                    "status_code": 400,
                    "response": json.dumps(
                        {
                            "title": "Invalid Resource",
                            "detail": "Bad address",
                            "errors": [{"field": "email_address", "message": "invalid"}],
                        }
                    ),
                }
            ],
        }.items():
            data = json.dumps(entries).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    first, second = parse_results(buffer.getvalue())
    assert first.ok and first.response == {"id": "h"}
    assert not second.ok
    assert second.message == "Invalid Resource - Bad address - email_address: invalid"


def test_delete_permanent_then_upsert_is_refused(mc: MailchimpConnector, audience: str) -> None:
    mc.upsert_member(audience, "gone@example.org", status_if_new="subscribed", merge_fields={})
    mc.delete_permanent(audience, "gone@example.org")
    assert mc.members(audience) == []
    with pytest.raises(FatalRemoteError) as caught:
        mc.upsert_member(audience, "gone@example.org", status_if_new="subscribed", merge_fields={})
    assert "Forgotten Email Not Subscribed" in str(caught.value)
    assert "GDPR" in caught.value.hint
    with pytest.raises(NotFoundError):
        mc.delete_permanent(audience, "never@example.org")


def test_campaign_draft_is_made_never_sent(
    sandbox: Any, mc: MailchimpConnector, audience: str
) -> None:
    fault(sandbox, "POST", "/3.0/campaigns", "drop_after_apply")
    campaign_id = mc.create_campaign_draft(
        audience,
        subject="Progress",
        title="Progress [abc]",
        from_name="FRL",
        reply_to="news@example.org",
        html="<p>Done: 3</p>",
    )
    raw = mc._client.campaigns.get(campaign_id)
    assert raw["status"] == "save"
    assert raw["settings"]["title"] == "Progress [abc]"
    assert "Done: 3" in mc._client.campaigns.get_content(campaign_id)["html"]
    drafts = mc._client.campaigns.list(list_id=audience)["campaigns"]
    assert [c["id"] for c in drafts] == [campaign_id]


def test_ratelimit_backs_off_without_retry_after(sandbox: Any, audience: str) -> None:
    sleeps = Sleeps()
    mc = connect(sandbox, sleeps=sleeps)
    fault(sandbox, "GET", "/3.0/lists/*/merge-fields", "ratelimit", count=2)
    calls = mc.calls
    assert isinstance(mc.merge_fields(audience), dict)
    assert mc.calls - calls == 3  # two 429s, then the answer
    assert len(sleeps) == 2 and 1.0 <= sleeps[0] <= 2.0 and 2.0 <= sleeps[1] <= 3.0


@pytest.mark.parametrize("key", ["", "s3cr3tkeywithoutdatacentre", "s3cr3t" + API_KEY])
def test_auth_error_names_the_setting_and_hides_the_key(sandbox: Any, key: str) -> None:
    mc = connect(sandbox, key=key)
    with pytest.raises(AuthError) as caught:
        mc.list_audiences()
    text = " ".join(caught.value.lines())
    assert "check mailchimp.api_key (MAILCHIMP_API_KEY)" in text
    assert "HTTP 401" in text and "API Key" in text  # Mailchimp's title is kept
    assert caught.value.service == "mailchimp" and mc.calls == 1
    if key:
        assert "s3cr3t" not in text


def test_no_key_in_error_messages(sandbox: Any, mc: MailchimpConnector, audience: str) -> None:
    with pytest.raises(FatalRemoteError) as caught:
        mc.upsert_member(audience, "not-an-address", status_if_new="subscribed", merge_fields={})
    issued = testing.issued(sandbox)["mailchimp"]["api_key"]
    assert issued not in " ".join(caught.value.lines())
    assert "HTTP 400" in str(caught.value)
