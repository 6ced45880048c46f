"""Refunds (partial, second partial, over-refund refused), disputes, manual payments."""

from __future__ import annotations

import pytest

from tests.helpers import assert_problem
from tests.plugins.payments.conftest import PAYMENTS, World, paid_intent


def settled(world: World, ref: str = "o-1", amount: int = 2500) -> dict:
    payment = paid_intent(world, ref, amount)
    world.stripe_webhook(world.intent_event(payment["provider_ref"]))
    return payment


def refund(world: World, payment_id: str, **body: object):
    return world.api.post(f"{PAYMENTS}/{payment_id}/refunds", world.owner, json=body)


def test_partial_then_second_partial_then_over_refund_refused(world: World) -> None:
    payment = settled(world)
    first = refund(world, payment["id"], amount=1000, reason="one item back")
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["amount"], first.get_json()["status"]) == (1000, "succeeded")
    assert world.payment(payment["id"])["status"] == "partially_refunded"
    second = refund(world, payment["id"], amount=1000)
    assert second.status_code == 201
    body = assert_problem(refund(world, payment["id"], amount=501), 409, "refund-exceeds-payment")
    assert body["refundable"] == 500
    detail = world.payment(payment["id"])
    assert (detail["amount_refunded"], detail["status"]) == (2000, "partially_refunded")
    assert [r["amount"] for r in detail["refunds"]] == [1000, 1000]
    keys = [key for _, path, key in world.stripe.calls if path == "/v1/refunds"]
    assert keys == [f"plugboard-refund-{first.get_json()['id']}",
                    f"plugboard-refund-{second.get_json()['id']}"]
    assert refund(world, payment["id"]).get_json()["amount"] == 500  # the rest
    assert world.payment(payment["id"])["status"] == "refunded"
    assert_problem(refund(world, payment["id"], amount=1), 409, "payment-not-refundable")
    refunded = world.events("payments.payment.refunded")
    assert [(e["amount_refunded"], e["total_refunded"]) for e in refunded] == [
        (1000, 1000), (1000, 2000), (500, 2500)]


def test_refund_webhooks_do_not_count_twice(world: World) -> None:
    payment = settled(world)
    ours = refund(world, payment["id"], amount=700).get_json()
    obj = world.stripe.refunds[ours["provider_ref"]]
    for _ in range(2):
        assert world.stripe_webhook(world.stripe.event("refund.updated", obj)).status_code == 200
    dashboard = {**obj, "id": "re_dashboard", "amount": 300}
    resp = world.stripe_webhook(world.stripe.event("refund.created", dashboard))
    assert resp.get_json()["outcomes"] == ["refund-succeeded"]
    assert world.payment(payment["id"])["amount_refunded"] == 1000
    assert len(world.events("payments.payment.refunded")) == 2


def test_refunds_of_unpaid_payments_and_bad_input(world: World) -> None:
    world.order()
    payment = world.pay()
    assert_problem(refund(world, payment["id"], amount=100), 409, "payment-not-refundable")
    paid = settled(world, "o-2")
    for body in ({"amount": 0}, {"amount": -5}, {"amount": "10"}, {"amount": 1.5}, {"extra": 1},
                 {"reason": "x" * 501}):
        assert_problem(refund(world, paid["id"], **body), 422)
    assert_problem(refund(world, "00000000-0000-0000-0000-000000000000", amount=1), 404)
    assert world.payment(paid["id"])["refunds"] == []


def test_refunds_need_the_refund_permission(world: World) -> None:
    payment = settled(world)
    manager = world.api.add_member(world.owner, "m@acme.example.com", "manager")
    assert_problem(world.api.post(f"{PAYMENTS}/{payment['id']}/refunds", manager, json={}), 403)
    assert world.payment(payment["id"])["amount_refunded"] == 0


def test_a_dispute_is_recorded_and_emitted_once(world: World) -> None:
    payment = settled(world)
    dispute = world.stripe.dispute(payment["provider_ref"])
    for _ in range(2):
        world.stripe_webhook(world.stripe.event("charge.dispute.created", dispute))
    world.stripe_webhook(world.stripe.event("charge.dispute.closed", {**dispute, "status": "lost"}))
    detail = world.payment(payment["id"])
    assert [(d["status"], d["reason"], d["amount"]) for d in detail["disputes"]] == [
        ("lost", "fraudulent", 2500)]
    disputed = world.events("payments.payment.disputed")
    assert len(disputed) == 1 and disputed[0]["dispute_id"] == detail["disputes"][0]["id"]


def test_manual_payment_records_exactly_what_is_due(world: World) -> None:
    world.order("o-m", 1999, "USD")
    url = f"{PAYMENTS}/manual"
    body = assert_problem(world.api.post(url, world.owner, json={
        "kind": "shop.order", "ref": "o-m", "amount": 1000, "currency": "USD", "note": "cash"}),
        422, "payment-amount-invalid")
    assert body["due"] == {"amount": 1999, "currency": "USD"}
    resp = world.api.post(url, world.owner, json={"kind": "shop.order", "ref": "o-m", "amount": 1999,
                                                  "currency": "USD", "note": "cash at the desk"})
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["status"], resp.get_json()["provider"]) == ("succeeded", "manual")
    assert len(world.events("payments.payment.succeeded")) == 1
    back = refund(world, resp.get_json()["id"], amount=999)
    assert back.get_json()["status"] == "succeeded"


@pytest.mark.parametrize("body", [
    {"kind": "shop.order", "ref": "o-m", "amount": 1999, "currency": "usd"},
    {"kind": "shop.order", "ref": "o-m", "amount": 1999, "currency": "XYZ"},
    {"kind": "shop.order", "ref": "o-m", "amount": 0, "currency": "USD"},
    {"kind": "shop.order", "ref": "o-m", "currency": "USD"},
    {"kind": "shop.order", "ref": "o-m", "amount": 1999, "currency": "USD", "note": "n" * 1001},
])
def test_bad_manual_payments_are_422(world: World, body: dict) -> None:
    world.order("o-m", 1999, "USD")
    assert_problem(world.api.post(f"{PAYMENTS}/manual", world.owner, json=body), 422)
    assert world.api.get(PAYMENTS, world.owner).get_json() == []
