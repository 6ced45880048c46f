"""Stripe webhooks: signature, tolerance, endpoints, dedupe, any order, each outcome once."""

from __future__ import annotations

import random

from tests.helpers import assert_problem
from tests.plugins.payments.conftest import (
    WEBHOOK_SECRET,
    World,
    configure,
    drain,
    now,
    paid_intent,
    stripe_config,
)
from tests.testplugins import shop


def test_a_paid_payment_emits_exactly_one_event(world: World) -> None:
    payment = paid_intent(world)
    resp = world.stripe_webhook(world.intent_event(payment["provider_ref"]))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"received": 1, "outcomes": ["succeeded"]}
    assert world.payment(payment["id"])["status"] == "succeeded"
    events = world.events()
    assert [e["name"] for e in events] == ["payments.payment.succeeded"]
    assert events[0] | {"name": None} == {
        "name": None, "payment_id": payment["id"], "kind": "shop.order", "ref": "o-1", "amount": 2500,
        "currency": "USD", "provider": "stripe", "account": "tenant", "status": "succeeded"}
    drain(world.app)
    assert [name for name, _ in shop.HANDLED] == ["payments.payment.succeeded"]
    assert shop.ORDERS[(world.tenant_id, "o-1")]["state"] == "paid"


def test_a_webhook_writes_no_audit_row(world: World) -> None:
    """A provider's report is not a person's action: the inbox row is its record."""
    import sqlalchemy as sa

    from kernel.data.models import AuditEntry
    from kernel.data.session import db
    from kernel.tenancy.scope import platform_scope

    def audit_rows() -> int:
        with world.app.app_context(), platform_scope():
            return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) or 0

    payment = paid_intent(world)
    before = audit_rows()
    assert world.stripe_webhook(world.intent_event(payment["provider_ref"])).status_code == 200
    assert world.payment(payment["id"])["status"] == "succeeded"
    assert audit_rows() == before


def test_the_same_event_five_times_is_applied_once(world: World) -> None:
    payment = paid_intent(world)
    body = world.intent_event(payment["provider_ref"], event_id="evt_same")
    outcomes = [world.stripe_webhook(body).get_json()["outcomes"] for _ in range(5)]
    assert outcomes == [["succeeded"]] + [["duplicate"]] * 4
    assert len(world.events("payments.payment.succeeded")) == 1


def test_events_in_any_order_end_succeeded_with_one_emission(world: World) -> None:
    for n in range(4):
        payment = paid_intent(world, ref=f"o-{n}")
        bodies = [world.intent_event(payment["provider_ref"], t) for t in (
            "payment_intent.requires_action", "payment_intent.processing", "payment_intent.succeeded",
            "payment_intent.processing")]
        random.Random(n).shuffle(bodies)
        for body in bodies:
            assert world.stripe_webhook(body).status_code == 200
        assert world.payment(payment["id"])["status"] == "succeeded"  # a late processing is ignored
    assert len(world.events("payments.payment.succeeded")) == 4


def test_a_late_failure_never_overwrites_success(world: World) -> None:
    payment = paid_intent(world)
    world.stripe_webhook(world.intent_event(payment["provider_ref"]))
    resp = world.stripe_webhook(world.intent_event(payment["provider_ref"], "payment_intent.payment_failed"))
    assert resp.get_json()["outcomes"] == ["stale"]
    assert world.payment(payment["id"])["status"] == "succeeded"
    assert world.events("payments.payment.failed") == []


def test_a_stale_timestamp_is_refused_and_changes_nothing(world: World) -> None:
    payment = paid_intent(world)
    resp = world.stripe_webhook(world.intent_event(payment["provider_ref"]), timestamp=now() - 301)
    assert_problem(resp, 400, "webhook-signature-invalid")
    assert world.payment(payment["id"])["status"] == "pending"
    assert world.events() == []


def test_a_wrong_secret_is_refused(world: World) -> None:
    payment = paid_intent(world)
    resp = world.stripe_webhook(world.intent_event(payment["provider_ref"]), secret="whsec_wrong")
    assert_problem(resp, 400, "webhook-signature-invalid")
    tampered = world.intent_event(payment["provider_ref"])
    header = world.stripe_webhook(tampered).request.headers["Stripe-Signature"]
    resp = world.api.post(f"/api/v1/webhooks/payments/stripe/{world.tenant_id}",
                          data=tampered.replace("2500", "1"), content_type="application/json",
                          headers={"Stripe-Signature": header})
    assert_problem(resp, 400, "webhook-signature-invalid")
    assert_problem(world.api.post(f"/api/v1/webhooks/payments/stripe/{world.tenant_id}",
                                  data=tampered, content_type="application/json"), 400)


def test_another_tenants_endpoint_does_not_settle_our_payment(world: World) -> None:
    payment = paid_intent(world)
    other = world.api.register("bravo")
    for name in ("payments", "shop"):
        world.api.put(f"/api/v1/plugins/{name}/activation", other, json={"enabled": True})
    other_secret = "whsec_bravo_" + "b" * 24
    assert configure(world.api, other, stripe=stripe_config(webhook_secret=other_secret)).status_code == 200
    body = world.intent_event(payment["provider_ref"])
    # signed with our secret, sent to bravo's endpoint: bravo's secret does not match
    assert_problem(world.stripe_webhook(body, endpoint=other.tenant_id), 400, "webhook-signature-invalid")
    # signed with bravo's secret (bravo's Stripe account): bravo has no such payment
    resp = world.stripe_webhook(body, secret=other_secret, endpoint=other.tenant_id)
    assert resp.get_json()["outcomes"] == ["unknown-payment"]
    assert world.payment(payment["id"])["status"] == "pending"
    assert world.events() == []


def test_unknown_endpoints_and_providers_are_404(world: World) -> None:
    body = world.stripe.event("payment_intent.succeeded", {"id": "pi_x"})
    assert_problem(world.stripe_webhook(body, endpoint="not-a-tenant"), 404, "webhook-endpoint-not-found")
    assert_problem(world.stripe_webhook(body, endpoint="00000000-0000-0000-0000-000000000000"), 404,
                   "plugin-not-enabled")
    resp = world.api.post(f"/api/v1/webhooks/payments/nope/{world.tenant_id}", data="{}",
                          content_type="application/json")
    assert_problem(resp, 404, "webhook-endpoint-not-found")


def test_events_we_do_not_act_on_are_acknowledged(world: World) -> None:
    body = world.stripe.event("customer.created", {"id": "cus_1", "object": "customer"})
    resp = world.stripe_webhook(body)
    assert resp.status_code == 200 and resp.get_json() == {"received": 0, "outcomes": []}
    assert WEBHOOK_SECRET not in resp.get_data(as_text=True)
