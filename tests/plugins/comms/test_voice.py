"""AI voice calls: vapi-server-sdk against the fake Vapi, then Vapi's server messages."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.vapi import FakeVapi
from tests.helpers import Account, Api, assert_problem, assert_rejected, row_counts, snapshot
from tests.plugins.comms.conftest import COMMS, CUSTOMER, VAPI_KEY, tenant_id, vapi_post, work


def _start(api: Api, owner: Account, **body: Any) -> dict[str, Any]:
    resp = api.post(f"{COMMS}/calls", owner, json={"to": CUSTOMER, **body})
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["status"] == "queued"
    work(api.app)
    return api.get(f"{COMMS}/calls/{resp.get_json()['id']}", owner).get_json()  # type: ignore[no-any-return]


def _report(call_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "end-of-call-report",
        "endedReason": "customer-ended-call",
        "call": {"id": call_id, "type": "outboundPhoneCall"},
        "artifact": {"transcript": "AI: Hello\nUser: Hi", "recordingUrl": "https://rec.example/1.wav"},
        "analysis": {"summary": "Confirmed Friday."},
        "durationSeconds": 61.5,
        "cost": 0.0735,
        "startedAt": "2026-11-24T10:00:00.000Z",
        "endedAt": "2026-11-24T10:01:01.500Z",
        **extra,
    }


def test_a_calls_full_lifecycle(api: Api, owner: Account, fake_vapi: FakeVapi) -> None:
    call = _start(api, owner, metadata={"booking": "B-7"})
    [request] = fake_vapi.calls()
    assert request.headers["Authorization"] == f"Bearer {VAPI_KEY}"
    assert request.json["assistantId"] == "asst-default" and request.json["phoneNumberId"] == "pn-1"
    assert request.json["customer"] == {"number": CUSTOMER}
    assert request.json["assistantOverrides"]["metadata"] == {
        "booking": "B-7",
        "plugboard_call_id": call["id"],
    }
    assert call["provider_call_id"] == request.extra["call_id"] and call["status"] == "queued"
    tid, vid = tenant_id(api, owner), call["provider_call_id"]
    for value in ("ringing", "in-progress", "ringing"):  # the late "ringing" is ignored
        resp = vapi_post(api, tid, {"type": "status-update", "status": value, "call": {"id": vid}})
        assert resp.status_code == 200
    assert api.get(f"{COMMS}/calls/{call['id']}", owner).get_json()["status"] == "in-progress"
    assert vapi_post(api, tid, _report(vid)).status_code == 200
    assert vapi_post(api, tid, _report(vid, endedReason="again")).status_code == 200  # repeated
    ended = api.get(f"{COMMS}/calls/{call['id']}", owner).get_json()
    assert ended["status"] == "ended" and ended["ended_reason"] == "customer-ended-call"
    assert ended["transcript"] == "AI: Hello\nUser: Hi" and ended["summary"] == "Confirmed Friday."
    assert ended["recording_url"] == "https://rec.example/1.wav" and ended["duration_seconds"] == 61.5
    assert ended["cost"] == {"amount": 7, "currency": "USD", "exact": "0.0735"}
    assert ended["ended_at"].startswith("2026-11-24T10:01:01")
    from tests.plugins.comms.test_webhooks import _events

    assert _events(api.app, "comms.call.ended") == [
        {
            "call_id": call["id"],
            "customer_id": None,
            "ended_reason": "customer-ended-call",
            "duration_seconds": 61.5,
        }
    ]
    assert [c["id"] for c in api.get(f"{COMMS}/calls?status=ended", owner).get_json()] == [call["id"]]
    assert api.get(f"{COMMS}/calls?status=queued", owner).get_json() == []


def test_every_vapi_authentication_is_accepted_and_forgeries_refused(
    api: Api, owner: Account, fake_vapi: FakeVapi
) -> None:
    call = _start(api, owner)
    tid, vid = tenant_id(api, owner), call["provider_call_id"]
    update = {"type": "status-update", "status": "ringing", "call": {"id": vid}}
    before = snapshot(api.app)
    for how in ("hmac", "secret", "bearer"):
        assert_problem(vapi_post(api, tid, update, secret="forged", how=how), 403, "invalid-signature")
    assert_problem(vapi_post(api, tid, update, how="none"), 403)
    assert snapshot(api.app) == before
    for how in ("secret", "bearer", "hmac"):
        assert vapi_post(api, tid, update, how=how).status_code == 200
    assert api.get(f"{COMMS}/calls/{call['id']}", owner).get_json()["status"] == "ringing"


def test_assistant_request_is_answered_fast_from_config(api: Api, owner: Account) -> None:
    started = time.perf_counter()
    resp = vapi_post(
        api,
        tenant_id(api, owner),
        {"type": "assistant-request", "call": {"id": "inbound-1", "type": "inboundPhoneCall"}},
    )
    assert time.perf_counter() - started < 1.0  # Vapi gives up after 7.5 s
    assert resp.status_code == 200 and resp.get_json() == {"assistantId": "asst-default"}


def test_calls_vapi_reports_that_we_did_not_start_are_recorded(api: Api, owner: Account) -> None:
    tid = tenant_id(api, owner)
    call = {"id": "vapi-inbound-9", "type": "inboundPhoneCall", "customer": {"number": CUSTOMER}}
    assert (
        vapi_post(api, tid, {"type": "status-update", "status": "in-progress", "call": call}).status_code
        == 200
    )
    assert vapi_post(api, tid, _report("vapi-inbound-9")).status_code == 200
    [found] = api.get(f"{COMMS}/calls?direction=inbound", owner).get_json()
    assert (found["to"], found["status"], found["summary"]) == (CUSTOMER, "ended", "Confirmed Friday.")


def test_vapi_failures_are_retried_then_stored(api: Api, owner: Account, fake_vapi: FakeVapi) -> None:
    fake_vapi.fail_next(503)
    assert _start(api, owner)["status"] == "queued"  # retried once, then placed
    fake_vapi.fail_next(400)
    failed = _start(api, owner)
    assert failed["status"] == "failed" and "400" in failed["error"]


def test_bad_call_requests_are_refused(api: Api, owner: Account, fake_vapi: FakeVapi) -> None:
    url = f"{COMMS}/calls"
    assert_rejected(api, "POST", url, owner, {"to": "call me"}, "/to")
    assert_rejected(api, "POST", url, owner, {"to": CUSTOMER, "assistant_id": ""}, "/assistant_id")
    assert_rejected(api, "POST", url, owner, {"to": CUSTOMER, "metadata": "x"}, "/metadata")
    tid = tenant_id(api, owner)
    before = row_counts(api.app)
    resp = api.client.post(
        f"/api/v1/webhooks/comms/vapi/{tid}",
        data=b"not json",
        headers={"X-Vapi-Secret": "vapi-webhook-secret-5678"},
    )
    assert_problem(resp, 422)
    assert_problem(vapi_post(api, tid, {"no": "type"}), 422)
    assert row_counts(api.app) == before
    assert fake_vapi.requests == []
