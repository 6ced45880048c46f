"""The staff API: creating payments from payables, confirming, listing, permissions, bad input."""

from __future__ import annotations

import pytest

from tests.helpers import assert_problem
from tests.plugins.payments.conftest import PAYMENTS, STRIPE_SECRET, World, configure, stripe_config


def test_a_payment_takes_its_amount_from_the_payable(world: World) -> None:
    world.order("o-1", 4200, "EUR")
    payment = world.pay("o-1", provider="stripe")
    assert (payment["amount"], payment["currency"], payment["status"]) == (4200, "EUR", "pending")
    assert payment["client_secret"].startswith(payment["provider_ref"] + "_secret_")
    intent = world.stripe.intents[payment["provider_ref"]]
    assert (intent["amount"], intent["currency"]) == (4200, "eur")
    assert intent["automatic_payment_methods"] == {"enabled": True}
    assert intent["metadata"] == {"payment_id": payment["id"], "tenant_id": world.tenant_id}
    keys = [key for method, path, key in world.stripe.calls if path == "/v1/payment_intents"]
    assert keys == [f"plugboard-payment-{payment['id']}"]  # every create carries its key


def test_an_amount_from_the_caller_is_refused(world: World) -> None:
    world.order()
    resp = world.api.post(PAYMENTS, world.owner, json={"kind": "shop.order", "ref": "o-1", "amount": 1})
    assert_problem(resp, 422)
    assert world.stripe.intents == {}


@pytest.mark.parametrize("currency, amount", [("JPY", 1500), ("ISK", 990)])
def test_zero_decimal_currencies(world: World, currency: str, amount: int) -> None:
    world.order("o-z", amount, currency)
    payment = world.pay("o-z")
    sent = world.stripe.intents[payment["provider_ref"]]["amount"]
    assert sent == (amount * 100 if currency == "ISK" else amount)  # Stripe's ISK exception
    world.stripe.succeed(payment["provider_ref"])
    resp = world.api.post(f"{PAYMENTS}/{payment['id']}/confirm", world.owner)
    assert resp.get_json()["status"] == "succeeded"  # amount_received matched after conversion


@pytest.mark.parametrize("state", ["paid", "cancelled", "expired"])
def test_a_payable_that_cannot_be_paid_is_409_saying_why(world: World, state: str) -> None:
    world.order("o-1", state=state)
    resp = world.api.post(PAYMENTS, world.owner, json={"kind": "shop.order", "ref": "o-1"})
    body = assert_problem(resp, 409, "payable-refused")
    assert body["reason"] == state and state in body["detail"]
    assert world.api.get(PAYMENTS, world.owner).get_json() == []


def test_unknown_payables_and_providers(world: World) -> None:
    assert_problem(world.api.post(PAYMENTS, world.owner, json={"kind": "shop.order", "ref": "nope"}),
                   404, "payable-not-found")
    assert_problem(world.api.post(PAYMENTS, world.owner, json={"kind": "other.thing", "ref": "1"}),
                   404, "payable-not-found")
    world.order()
    assert_problem(world.api.post(PAYMENTS, world.owner, json={"kind": "shop.order", "ref": "o-1",
                                                               "provider": "bitcoin"}),
                   422, "payment-provider-unknown")
    assert_problem(world.api.post(PAYMENTS, world.owner, json={"kind": "shop.order", "ref": "o-1",
                                                               "provider": "manual"}),
                   422, "payment-provider-unknown")


def test_a_provider_not_configured_is_409(world: World) -> None:
    assert configure(world.api, world.owner).status_code == 200
    world.order()
    assert_problem(world.api.post(PAYMENTS, world.owner, json={"kind": "shop.order", "ref": "o-1"}),
                   409, "payment-provider-not-configured")


def test_a_provider_refusal_stores_nothing(world: World) -> None:
    configure(world.api, world.owner, stripe=stripe_config(secret_key="sk_live_rejected"))
    world.order()
    resp = world.api.post(PAYMENTS, world.owner, json={"kind": "shop.order", "ref": "o-1"})
    body = assert_problem(resp, 409, "payment-provider-error")
    assert "sk_live" not in body["detail"]
    assert world.api.get(PAYMENTS, world.owner).get_json() == []


BAD_BODIES = [
    {}, {"kind": "shop.order"}, {"ref": "o-1"}, {"kind": "Shop", "ref": "o-1"},
    {"kind": "shop.order", "ref": ""}, {"kind": "shop.order", "ref": "x" * 121},
    {"kind": "shop.order", "ref": "o-1", "return_url": "javascript:alert(1)"},
    {"kind": "shop.order", "ref": "o-1", "extra": 1}, {"kind": 5, "ref": "o-1"},
    {"kind": "shop.order", "ref": "o-1", "method": "cash"},
    {"kind": "shop.order", "ref": "o-1", "email": "not-mail"},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_create_bodies_are_422_and_store_nothing(world: World, body: dict[str, object]) -> None:
    world.order()
    assert_problem(world.api.post(PAYMENTS, world.owner, json=body), 422)
    assert world.api.get(PAYMENTS, world.owner).get_json() == []
    assert world.stripe.intents == {}


def test_bad_input_elsewhere(world: World) -> None:
    api, owner = world.api, world.owner
    assert_problem(api.post(PAYMENTS, owner, data="{", content_type="application/json"), 400)
    assert_problem(api.post(PAYMENTS, owner, data="kind=x", content_type="text/plain"), 415)
    assert_problem(api.get(f"{PAYMENTS}?status=nonsense", owner), 422)
    assert_problem(api.get(f"{PAYMENTS}/not-a-uuid", owner), 404)
    assert_problem(api.get(f"{PAYMENTS}/00000000-0000-0000-0000-000000000000", owner), 404,
                   "payment-not-found")
    assert_problem(api.post(f"{PAYMENTS}/00000000-0000-0000-0000-000000000000/confirm", owner), 404)


def test_list_filters_and_reads(world: World) -> None:
    world.order("o-1")
    world.order("o-2", 100)
    first, second = world.pay("o-1"), world.pay("o-2")
    assert [p["id"] for p in world.api.get(f"{PAYMENTS}?ref=o-2", world.owner).get_json()] == [second["id"]]
    assert len(world.api.get(f"{PAYMENTS}?kind=shop.order&status=pending", world.owner).get_json()) == 2
    detail = world.payment(first["id"])
    assert detail["refunds"] == [] and detail["disputes"] == []


def test_confirm_reads_the_provider(world: World) -> None:
    world.order()
    payment = world.pay()
    resp = world.api.post(f"{PAYMENTS}/{payment['id']}/confirm", world.owner)
    assert resp.get_json()["status"] == "pending"  # not paid yet
    world.stripe.succeed(payment["provider_ref"])
    assert world.api.post(f"{PAYMENTS}/{payment['id']}/confirm", world.owner).get_json()["status"] == (
        "succeeded")
    assert world.api.post(f"{PAYMENTS}/{payment['id']}/confirm", world.owner).status_code == 200
    assert len(world.events("payments.payment.succeeded")) == 1


def test_permissions_and_other_tenants(world: World) -> None:
    world.order()
    payment = world.pay()
    analyst = world.api.add_member(world.owner, "analyst@acme.example.com", "analyst")
    assert world.api.get(PAYMENTS, analyst).status_code == 200
    assert_problem(world.api.post(PAYMENTS, analyst, json={"kind": "shop.order", "ref": "o-1"}), 403)
    other = world.api.register("bravo")
    world.api.put("/api/v1/plugins/payments/activation", other, json={"enabled": True})
    assert_problem(world.api.get(f"{PAYMENTS}/{payment['id']}", other), 404, "payment-not-found")
    assert world.api.get(PAYMENTS, other).get_json() == []
    stranger = world.api.register("charlie")
    assert_problem(world.api.get(PAYMENTS, stranger), 404, "plugin-not-enabled")


def test_providers_list_says_configured_and_webhook_url(world: World) -> None:
    found = {p["name"]: p for p in world.api.get(f"{PAYMENTS}/providers", world.owner).get_json()}
    assert set(found) == {"stripe", "paynow", "manual"}  # acmepay: not enabled by this tenant
    assert found["stripe"]["configured"] and found["stripe"]["publishable_key"] == "pk_test_alpha"
    assert found["stripe"]["webhook_url"].endswith(f"/api/v1/webhooks/payments/stripe/{world.tenant_id}")
    text = world.api.get(f"{PAYMENTS}/providers", world.owner).get_data(as_text=True)
    assert STRIPE_SECRET not in text


def test_openapi_documents_the_routes(world: World) -> None:
    paths = world.api.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/v1/payments", "/api/v1/payments/{payment_id}/refunds", "/api/v1/payments/manual",
                 "/api/v1/payments/links", "/api/v1/public/payments/links/{token}",
                 "/api/v1/webhooks/payments/{provider}/{endpoint}", "/api/v1/admin/payments/payments"):
        assert path in paths, path


def test_a_declined_card_fails_the_payment_and_a_retry_can_still_succeed(world: World) -> None:
    world.order()
    payment = world.pay()
    world.stripe.intents[payment["provider_ref"]]["last_payment_error"] = {"code": "card_declined"}
    assert world.api.post(f"{PAYMENTS}/{payment['id']}/confirm", world.owner).get_json()["status"] == "failed"
    assert len(world.events("payments.payment.failed")) == 1
    world.stripe.succeed(payment["provider_ref"])  # the payer tried another card
    assert world.api.post(f"{PAYMENTS}/{payment['id']}/confirm", world.owner).get_json()["status"] == (
        "succeeded")
