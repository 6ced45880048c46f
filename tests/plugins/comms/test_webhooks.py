"""Twilio's status callbacks and inbound texts: signatures, order, repeats, opt-outs."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from kernel import create_app
from kernel.services import kernel_services
from tests.fakes.twilio import FakeTwilio
from tests.helpers import Account, Api, assert_problem, row_counts, snapshot
from tests.plugins.comms.conftest import (
    COMMS,
    CUSTOMER,
    HOOKS,
    OTHER,
    inbound,
    send,
    sent_message,
    status,
    tenant_id,
    twilio_post,
    work,
)


def _events(app: Flask, name: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from kernel.api import db, platform_scope
    from kernel.runtime.events import OutboxEvent

    with app.app_context(), platform_scope():
        rows = db.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.name == name).order_by(OutboxEvent.created_at)
        )
        return [dict(r.payload) for r in rows]


def test_statuses_only_move_forward_whatever_the_order(
    api: Api, owner: Account, fake_twilio: FakeTwilio
) -> None:
    message = sent_message(api, owner)
    tid, sid = tenant_id(api, owner), message["provider_sid"]
    for value in ("delivered", "sent", "queued", "sending", "delivered", "undelivered"):
        assert status(api, tid, sid, value).status_code == 204
    found = api.get(f"{COMMS}/messages/{message['id']}", owner).get_json()
    assert found["status"] == "delivered" and found["delivered_at"]
    updates = _events(api.app, "comms.sms.updated")
    assert [e["status"] for e in updates] == ["delivered"]  # once, for the one real change


def test_sent_then_failed_with_an_error_code(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    message = sent_message(api, owner)
    tid, sid = tenant_id(api, owner), message["provider_sid"]
    assert status(api, tid, sid, "sent").status_code == 204
    assert status(api, tid, sid, "undelivered", ErrorCode="30003").status_code == 204
    found = api.get(f"{COMMS}/messages/{message['id']}", owner).get_json()
    assert (found["status"], found["error_code"]) == ("undelivered", 30003)


def test_a_repeated_callback_is_stored_once(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    message = sent_message(api, owner)
    tid, sid = tenant_id(api, owner), message["provider_sid"]
    assert status(api, tid, sid, "sent").status_code == 204
    before = snapshot(api.app)
    assert status(api, tid, sid, "sent").status_code == 204
    assert snapshot(api.app) == before


def test_a_callback_that_beats_the_send_job_is_applied_later(api: Api, owner: Account) -> None:
    # a callback for a SID we have not stored yet is kept, then applied when the SID arrives
    tid = tenant_id(api, owner)
    from plugins.comms import services
    from plugins.comms.models import Message

    assert status(api, tid, "SM" + "a" * 32, "delivered").status_code == 204
    with api.app.app_context():
        from kernel.api import db, tenant_scope

        with tenant_scope(tid):
            message = Message(
                direction="outbound",
                to_number=CUSTOMER,
                body="x",
                status="queued",
                provider_sid="SM" + "a" * 32,
            )
            db.session.add(message)
            db.session.flush()
            services.apply_recorded(message)
            assert message.status == "delivered"
            db.session.rollback()


def test_forged_and_unsigned_callbacks_are_refused(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    message = sent_message(api, owner)
    tid, sid = tenant_id(api, owner), message["provider_sid"]
    path = f"{HOOKS}/twilio/{tid}/status"
    form = {"MessageSid": sid, "MessageStatus": "delivered"}
    before = snapshot(api.app)
    assert_problem(twilio_post(api, path, form, token="not-the-token"), 403, "invalid-signature")
    assert_problem(twilio_post(api, path, form, signature=""), 403)
    assert_problem(api.client.post(path, data=form), 403)
    # signed for another URL (another tenant's endpoint): refused too
    assert_problem(twilio_post(api, path, form, url=f"http://localhost{HOOKS}/twilio/x/status"), 403)
    tampered = {"X-Twilio-Signature": _signature(path, form)}
    assert_problem(api.client.post(path, data={**form, "MessageStatus": "failed"}, headers=tampered), 403)
    assert snapshot(api.app) == before
    assert twilio_post(api, path, form).status_code == 204  # the genuine one
    assert snapshot(api.app)["comms_messages"] != before["comms_messages"]


def _signature(path: str, form: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    from tests.plugins.comms.conftest import AUTH_TOKEN

    return str(RequestValidator(AUTH_TOKEN).compute_signature("http://localhost" + path, form))


def test_bad_callbacks_are_422_and_store_nothing(api: Api, owner: Account) -> None:
    tid = tenant_id(api, owner)
    before = row_counts(api.app)
    assert_problem(twilio_post(api, f"{HOOKS}/twilio/{tid}/status", {"MessageStatus": "sent"}), 422)
    assert_problem(
        twilio_post(api, f"{HOOKS}/twilio/{tid}/status", {"MessageSid": "SM1", "MessageStatus": "exploded"}),
        422,
    )
    assert_problem(
        twilio_post(
            api,
            f"{HOOKS}/twilio/{tid}/inbound",
            {"MessageSid": "SM2", "From": "nope", "To": CUSTOMER, "Body": "x"},
        ),
        422,
    )
    assert row_counts(api.app) == before


def test_unknown_or_disabled_tenants_get_404(api: Api, owner: Account) -> None:
    other = api.register("nocomms")
    form = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "sent"}
    assert_problem(twilio_post(api, f"{HOOKS}/twilio/{tenant_id(api, other)}/status", form), 404)
    assert_problem(twilio_post(api, f"{HOOKS}/twilio/8a7c2f4e-0000-4000-8000-000000000000/status", form), 404)


def test_behind_a_proxy_the_public_url_is_verified(
    api: Api, owner: Account, app_config: dict[str, Any], fake_twilio: FakeTwilio
) -> None:
    message = sent_message(api, owner)
    tid, sid = tenant_id(api, owner), message["provider_sid"]
    path = f"{HOOKS}/twilio/{tid}/status"
    public = f"https://hooks.acme.example{path}"
    form = {"MessageSid": sid, "MessageStatus": "delivered"}
    proxied = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hooks.acme.example",
        "X-Forwarded-For": "54.172.60.1",
    }
    # without trusting the proxy, the URL we see (http://localhost/…) is not the one signed
    assert_problem(twilio_post(api, path, form, url=public, headers=proxied), 403)
    behind = create_app({**app_config, "trusted_proxies": 1})
    try:
        proxy_api = Api(behind.test_client(), behind)
        assert twilio_post(proxy_api, path, form, url=public, headers=proxied).status_code == 204
    finally:
        kernel_services(behind).engine.dispose()
    assert api.get(f"{COMMS}/messages/{message['id']}", owner).get_json()["status"] == "delivered"


def test_stop_then_a_send_is_refused_then_start(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    tid = tenant_id(api, owner)
    resp = inbound(api, tid, "  stop ")
    assert resp.status_code == 200 and resp.mimetype == "text/xml"
    listed = api.get(f"{COMMS}/opt-outs", owner).get_json()
    assert [(o["number"], o["source"], o["keyword"]) for o in listed] == [(CUSTOMER, "keyword", "STOP")]
    before = row_counts(api.app)
    assert_problem(send(api, owner), 409, "opted-out")
    assert row_counts(api.app) == before
    assert inbound(api, tid, "UNSUBSCRIBE", from_=OTHER).status_code == 200
    assert inbound(api, tid, "Start").status_code == 200
    assert api.get(f"{COMMS}/opt-outs", owner).get_json()[0]["number"] == OTHER
    assert send(api, owner).status_code == 202
    work(api.app)
    assert len(fake_twilio.sends()) == 1


@pytest.mark.postgres_only  # a worker, not inline jobs: the text waits in the queue
def test_a_stop_that_arrives_while_queued_stops_the_send(
    api: Api, owner: Account, fake_twilio: FakeTwilio
) -> None:
    resp = send(api, owner)
    inbound(api, tenant_id(api, owner), "STOP")
    work(api.app)
    found = api.get(f"{COMMS}/messages/{resp.get_json()['id']}", owner).get_json()
    assert found["status"] == "failed" and "opted out" in found["error_message"]
    assert fake_twilio.sends() == []


def test_inbound_texts_are_stored_once_and_emit_an_event(api: Api, owner: Account) -> None:
    tid = tenant_id(api, owner)
    sid = "SM" + "c" * 32
    assert inbound(api, tid, "Can I move my booking to 3pm?", sid=sid).status_code == 200
    assert inbound(api, tid, "Can I move my booking to 3pm?", sid=sid).status_code == 200
    [message] = api.get(f"{COMMS}/messages?direction=inbound", owner).get_json()
    assert (message["from"], message["status"], message["provider_sid"]) == (CUSTOMER, "received", sid)
    assert _events(api.app, "comms.sms.received") == [
        {"message_id": message["id"], "customer_id": None, "keyword": None}
    ]


def test_help_is_answered_with_the_tenants_text(api: Api, owner: Account) -> None:
    from tests.plugins.comms.conftest import config, enable

    enable(api, owner, twilio={**config()["twilio"], "help_reply": "Acme: call 0800 123 456"})
    resp = inbound(api, tenant_id(api, owner), "help")
    assert "<Message>Acme: call 0800 123 456</Message>" in resp.get_data(as_text=True)
    assert api.get(f"{COMMS}/opt-outs", owner).get_json() == []


def test_staff_edit_the_opt_out_list(api: Api, owner: Account) -> None:
    resp = api.post(f"{COMMS}/opt-outs", owner, json={"number": "+263 77 200 0111"})
    assert resp.status_code == 201 and resp.get_json()["source"] == "staff"
    assert api.get(f"{COMMS}/opt-outs/{OTHER}", owner).status_code == 200
    assert api.get(f"{COMMS}/opt-outs/263772000111", owner).status_code == 200
    assert_problem(send(api, owner, to=OTHER), 409, "opted-out")
    assert api.delete(f"{COMMS}/opt-outs/{OTHER}", owner).status_code == 204
    assert_problem(api.delete(f"{COMMS}/opt-outs/{OTHER}", owner), 404)
    assert_problem(api.delete(f"{COMMS}/opt-outs/not-a-number", owner), 422)
    support = api.add_member(owner, "help@acme.example.com", "support")
    assert api.get(f"{COMMS}/opt-outs", support).status_code == 200
    assert_problem(api.post(f"{COMMS}/opt-outs", support, json={"number": OTHER}), 403)
