"""Payments to the platform's own account (``account: "platform"``, e.g. billing's invoices
to tenants): the platform's Stripe settings from ``PLUGBOARD_PAYMENTS_*``, the ``platform``
webhook endpoint and its secret."""

from __future__ import annotations

import pytest

from tests.helpers import assert_problem
from tests.plugins.payments.conftest import PAYMENTS, WEBHOOK_SECRET, World

PLATFORM_SECRET = "whsec_platform_" + "p" * 24


@pytest.fixture
def platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGBOARD_PAYMENTS_STRIPE_SECRET_KEY", "sk_test_platform")
    monkeypatch.setenv("PLUGBOARD_PAYMENTS_STRIPE_WEBHOOK_SECRET", PLATFORM_SECRET)


def test_a_platform_payable_is_paid_into_the_platforms_account(world: World, platform_env: None) -> None:
    world.order("inv-1", 9900, "USD", account="platform")
    payment = world.pay("inv-1")
    assert payment["account"] == "platform"
    calls = [c for c in world.stripe.calls if c[1] == "/v1/payment_intents"]
    assert len(calls) == 1  # made with the platform's key (the fake accepts any sk_test_…)
    world.stripe.succeed(payment["provider_ref"])
    body = world.intent_event(payment["provider_ref"])
    # the tenant's endpoint does not settle a platform payment, even correctly signed
    assert world.stripe_webhook(body).get_json()["outcomes"] == ["unknown-payment"]
    assert_problem(world.stripe_webhook(body, secret=WEBHOOK_SECRET, endpoint="platform"), 400,
                   "webhook-signature-invalid")
    resp = world.stripe_webhook(body, secret=PLATFORM_SECRET, endpoint="platform")
    assert resp.get_json() == {"received": 1, "outcomes": ["succeeded"]}
    assert world.stripe_webhook(body, secret=PLATFORM_SECRET, endpoint="platform").get_json()[
        "outcomes"] == ["duplicate"]
    assert world.payment(payment["id"])["status"] == "succeeded"
    assert len(world.events("payments.payment.succeeded")) == 1


def test_platform_payments_without_platform_settings_are_409(world: World) -> None:
    world.order("inv-2", 100, account="platform")
    body = assert_problem(world.api.post(PAYMENTS, world.owner, json={"kind": "shop.order", "ref": "inv-2"}),
                          409, "payment-provider-not-configured")
    assert "PLUGBOARD_PAYMENTS" in body["detail"]
