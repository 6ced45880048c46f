"""Cooperation: other plugins text through plugboard_send_sms; customer data functions."""

from __future__ import annotations

import uuid

import pytest

from hookspecs import PluginRefusal
from kernel.api import db, tenant_hook, tenant_scope
from plugins.comms import people
from tests.fakes.twilio import FakeTwilio
from tests.helpers import Account, Api
from tests.plugins.comms.conftest import COMMS, CUSTOMER, inbound, tenant_id, work


def _hook(api: Api, tid: str, **kwargs: str | None) -> object:
    with api.app.app_context(), tenant_scope(tid):
        try:
            return tenant_hook("plugboard_send_sms")(tenant_id=uuid.UUID(tid), **kwargs)
        finally:
            db.session.commit()


def test_hook_plugboard_send_sms(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    tid = tenant_id(api, owner)
    answer = _hook(api, tid, to=CUSTOMER, body="Reminder: Friday 10:00", ref="crm.appointment:42")
    assert isinstance(answer, dict) and answer["status"] == "queued"
    work(api.app)
    message = api.get(f"{COMMS}/messages/{answer['message_id']}", owner).get_json()
    assert message["ref"] == "crm.appointment:42" and message["provider_sid"]
    assert fake_twilio.sends()[0].form["Body"] == "Reminder: Friday 10:00"
    inbound(api, tid, "STOP")
    with pytest.raises(PluginRefusal) as refused:
        _hook(api, tid, to=CUSTOMER, body="again", ref=None)
    assert (refused.value.status, refused.value.type_) == (409, "opted-out")
    with pytest.raises(PluginRefusal) as refused:
        _hook(api, tid, to="not a number", body="x", ref=None)
    assert (refused.value.status, refused.value.type_) == (422, "invalid-number")


def test_the_hook_refuses_when_not_configured_and_is_silent_when_disabled(
    api: Api, fake_twilio: FakeTwilio
) -> None:
    bare = api.register("bare")
    tid = tenant_id(api, bare)
    assert _hook(api, tid, to=CUSTOMER, body="x", ref=None) is None  # comms not enabled: nobody answers
    api.put("/api/v1/plugins/comms/activation", bare, json={"enabled": True})
    with pytest.raises(PluginRefusal) as refused:
        _hook(api, tid, to=CUSTOMER, body="x", ref=None)
    assert refused.value.type_ == "comms-not-configured"


def test_customer_timeline_export_and_erase(api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    customer = uuid.uuid4()
    resp = api.post(
        f"{COMMS}/sms", owner, json={"to": CUSTOMER, "body": "Private note", "customer_id": str(customer)}
    )
    assert resp.status_code == 202
    api.post(f"{COMMS}/sms", owner, json={"to": CUSTOMER, "body": "Someone else's"})
    tid = tenant_id(api, owner)
    with api.app.app_context(), tenant_scope(tid):
        [entry] = people.customer_timeline(customer)
        assert entry["type"] == "comms.sms.outbound" and entry["title"] == "Private note"
        exported = people.customer_export(customer)
        assert [m["body"] for m in exported["messages"]] == ["Private note"] and exported["calls"] == []
        assert people.customer_erase(customer) == 1
        db.session.commit()
        assert people.customer_export(customer)["messages"][0]["body"] == people.ERASED
    bodies = sorted(m["body"] for m in api.get(f"{COMMS}/messages", owner).get_json())
    assert bodies == sorted([people.ERASED, "Someone else's"])


def test_a_text_to_a_known_number_joins_the_customers_timeline(
        api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    resp = api.post("/api/v1/customers", owner, json={"email": "cust@example.com", "name": "Cust",
                                                       "phone": CUSTOMER})
    assert resp.status_code == 201, resp.get_json()
    customer_id = resp.get_json()["id"]
    assert api.post(f"{COMMS}/sms", owner, json={"to": CUSTOMER, "body": "See you"}).status_code == 202
    entries = api.get(f"/api/v1/customers/{customer_id}/timeline", owner).get_json()
    assert [(e["plugin"], e["title"]) for e in entries if e["plugin"] == "comms"] == [("comms", "See you")]
    exported = api.get(f"/api/v1/customers/{customer_id}/export", owner).get_json()
    assert [m["body"] for m in exported["plugins"]["comms"]["messages"]] == ["See you"]
    assert api.delete(f"/api/v1/customers/{customer_id}", owner).status_code == 204
    bodies = [m["body"] for m in api.get(f"{COMMS}/messages", owner).get_json()]
    assert bodies == [people.ERASED]
