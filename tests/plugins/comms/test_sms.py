"""Sending texts: the real twilio SDK against the fake Twilio, retries, permanent failures."""

from __future__ import annotations

from tests.fakes.twilio import FakeTwilio
from tests.helpers import Account, Api, assert_problem, assert_rejected, row_counts
from tests.plugins.comms.conftest import (
    ACCOUNT_SID,
    COMMS,
    CUSTOMER,
    SENDER,
    enable,
    send,
    sent_message,
    tenant_id,
    work,
)


def test_a_text_is_queued_then_sent_through_twilio(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    resp = send(api, owner, to="+263 77 123 4567", body="Your table is ready")
    assert resp.status_code == 202
    queued = resp.get_json()
    assert queued["status"] == "queued" and queued["to"] == CUSTOMER
    assert queued["segments"] == 1 and queued["encoding"] == "GSM-7"
    work(api.app)
    message = api.get(f"{COMMS}/messages/{queued['id']}", owner).get_json()
    [request] = fake_twilio.sends()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form["To"] == CUSTOMER and request.form["From"] == SENDER
    assert request.form["Body"] == "Your table is ready"
    tid = tenant_id(api, owner)
    assert request.form["StatusCallback"].endswith(f"/api/v1/webhooks/comms/twilio/{tid}/status")
    assert request.headers["User-Agent"].startswith("twilio-python/")
    assert message["provider_sid"] == request.extra["sid"] and message["attempts"] == 1
    assert message["status"] == "queued" and message["submitted_at"]


def test_429_and_5xx_are_retried_with_back_off(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(429, times=2)
    fake_twilio.fail_next(503)
    message = sent_message(api, owner)
    assert message["attempts"] == 4 and message["provider_sid"]
    assert len(fake_twilio.requests) == 4 and len(fake_twilio.sends()) == 1
    gaps = [b.at - a.at for a, b in zip(fake_twilio.requests, fake_twilio.requests[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # back-off doubles


def test_a_permanent_error_is_stored_and_not_retried(
    api: Api, owner: Account, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.refuse(CUSTOMER, 21610)
    message = sent_message(api, owner)
    assert message["status"] == "failed" and message["error_code"] == 21610
    assert "unsubscribed" in message["error_message"]
    assert len(fake_twilio.requests) == 1 and message["attempts"] == 1
    # Twilio says the person unsubscribed: we stop trying too
    assert api.get(f"{COMMS}/opt-outs/{CUSTOMER}", owner).get_json()["source"] == "provider"
    assert_problem(send(api, owner), 409, "opted-out")


def test_giving_up_after_the_last_retry(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(500, times=10)
    message = sent_message(api, owner)
    assert message["status"] == "failed" and message["error_code"] == 20500
    assert message["attempts"] == 5 and len(fake_twilio.requests) == 5


def test_templates_render_in_a_sandbox(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    resp = api.post(
        f"{COMMS}/templates", owner, json={"name": "reminder", "body": "Hi {{ name }}, {{ when }}"}
    )
    assert resp.status_code == 201
    resp = api.post(
        f"{COMMS}/sms",
        owner,
        json={
            "to": CUSTOMER,
            "template": "reminder",
            "variables": {"name": "Tendai", "when": "Friday 10:00"},
        },
    )
    assert resp.status_code == 202 and resp.get_json()["body"] == "Hi Tendai, Friday 10:00"
    assert resp.get_json()["template"] == "reminder"
    before = row_counts(api.app)
    problem = assert_problem(
        api.post(
            f"{COMMS}/sms", owner, json={"to": CUSTOMER, "template": "reminder", "variables": {"name": "x"}}
        ),
        422,
        "validation-error",
    )
    assert "when" in problem["detail"]
    evil = api.post(f"{COMMS}/templates", owner, json={"name": "evil", "body": "{{ ''.__class__.__mro__ }}"})
    assert evil.status_code == 201
    problem = assert_problem(api.post(f"{COMMS}/sms", owner, json={"to": CUSTOMER, "template": "evil"}), 422)
    assert "unsafe" in problem["detail"] or "attribute" in problem["detail"]
    assert_problem(api.post(f"{COMMS}/sms", owner, json={"to": CUSTOMER, "template": "nope"}), 404)
    changed = {k for k, v in row_counts(api.app).items() if before[k] != v}
    assert changed == {"comms_templates", "audit_log"}  # the template; no message was stored


def test_segments_are_counted_before_sending(api: Api, owner: Account) -> None:
    def preview(body: str) -> dict[str, int]:
        resp = api.post(f"{COMMS}/sms/preview", owner, json={"body": body})
        assert resp.status_code == 200
        return resp.get_json()  # type: ignore[no-any-return]

    assert preview("a" * 160)["segments"] == 1
    assert preview("a" * 161)["segments"] == 2
    assert preview("€" * 80) == {
        "body": "€" * 80,
        "encoding": "GSM-7",
        "segments": 1,
        "units": 160,
        "to": None,
    }
    assert preview("Hello ✓")["encoding"] == "UCS-2"
    assert preview("✓" * 71)["segments"] == 2


def test_bad_input_is_refused_and_nothing_is_stored(
    api: Api, owner: Account, fake_twilio: FakeTwilio
) -> None:
    url = f"{COMMS}/sms"
    assert_rejected(api, "POST", url, owner, {"to": "12345", "body": "x"}, "/to")
    assert_rejected(api, "POST", url, owner, {"to": "+1 555 0000 00", "body": "x"}, "/to")
    assert_rejected(api, "POST", url, owner, {"to": CUSTOMER}, "/body")
    assert_rejected(api, "POST", url, owner, {"to": CUSTOMER, "body": "x", "template": "a"}, "/body")
    assert_rejected(api, "POST", url, owner, {"to": CUSTOMER, "body": "x" * 1601}, "/body")
    assert_rejected(api, "POST", url, owner, {"to": CUSTOMER, "body": "x", "colour": 1}, "/colour")
    assert_rejected(api, "POST", url, owner, {"to": CUSTOMER, "body": "   "}, "/body")
    assert_rejected(api, "POST", f"{COMMS}/templates", owner, {"name": "Bad Name", "body": "x"}, "/name")
    assert_rejected(api, "POST", f"{COMMS}/templates", owner, {"name": "ok", "body": "{{ x"}, "/body")
    assert fake_twilio.requests == []


def test_without_twilio_config_sending_is_refused(api: Api, fake_twilio: FakeTwilio) -> None:
    account = api.register("bare")
    assert api.put("/api/v1/plugins/comms/activation", account, json={"enabled": True}).status_code == 200
    before = row_counts(api.app)
    assert_problem(send(api, account), 409, "comms-not-configured")
    assert row_counts(api.app) == before


def test_idempotency_key_answers_the_first_message(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    key = {"Idempotency-Key": "order-42-confirmation"}
    first = api.post(f"{COMMS}/sms", owner, json={"to": CUSTOMER, "body": "Hi"}, headers=key)
    again = api.post(f"{COMMS}/sms", owner, json={"to": CUSTOMER, "body": "Hi"}, headers=key)
    assert first.status_code == again.status_code == 202
    assert first.get_json()["id"] == again.get_json()["id"]
    work(api.app)
    assert len(fake_twilio.sends()) == 1


def test_permissions_and_tenant_isolation(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    message = sent_message(api, owner)
    support = api.add_member(owner, "support@acme.example.com", "support")
    assert api.get(f"{COMMS}/messages/{message['id']}", support).status_code == 200
    assert_problem(send(api, support), 403)
    other = api.register("other")
    enable(api, other)
    assert_problem(api.get(f"{COMMS}/messages/{message['id']}", other), 404)
    assert api.get(f"{COMMS}/messages", other).get_json() == []
    stranger = api.register("stranger")
    assert_problem(api.get(f"{COMMS}/messages", stranger), 404, "plugin-not-enabled")


def test_message_filters(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    sent_message(api, owner)
    sent_message(api, owner, to="+263772000111")
    found = api.get(f"{COMMS}/messages?number=%2B263772000111", owner).get_json()
    assert [m["to"] for m in found] == ["+263772000111"]
    assert len(api.get(f"{COMMS}/messages?direction=outbound", owner).get_json()) == 2
    assert api.get(f"{COMMS}/messages?direction=inbound", owner).get_json() == []
    assert_problem(api.get(f"{COMMS}/messages?direction=sideways", owner), 422)
    assert_problem(api.get(f"{COMMS}/messages?number=12", owner), 422)
