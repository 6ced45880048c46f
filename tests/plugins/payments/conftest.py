"""Shared fixtures of the payments tests: an app with payments, a payable plugin (``shop``)
and a provider plugin (``acmepay``), a tenant with Stripe and Paynow configured, and
helpers that deliver signed webhooks.

The app runs with only these plugins (``plugin_app``), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from plugins.payments import plugin as payments_plugin
from tests.fakes.paynow import FakePaynow
from tests.fakes.stripe import FakeStripe, sign
from tests.helpers import Account, Api
from tests.testplugins import acmepay, shop

PAYMENTS = "/api/v1/payments"
STRIPE_SECRET = "sk_test_alpha"
WEBHOOK_SECRET = "whsec_alpha_" + "a" * 24
PAYNOW_ID = "12345"
PAYNOW_KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977"


@dataclass
class World:
    app: Flask
    api: Api
    owner: Account
    stripe: FakeStripe
    paynow: FakePaynow

    @property
    def tenant_id(self) -> str:
        return self.owner.tenant_id

    def order(self, ref: str = "o-1", amount: int = 2500, currency: str = "USD", **kw: Any) -> str:
        shop.add_order(self.tenant_id, ref, amount, currency, **kw)
        return ref

    def pay(self, ref: str = "o-1", expect: int = 201, **body: Any) -> dict[str, Any]:
        resp = self.api.post(PAYMENTS, self.owner, json={"kind": "shop.order", "ref": ref, **body})
        assert resp.status_code == expect, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]

    def stripe_webhook(self, body: str, secret: str = WEBHOOK_SECRET, endpoint: str | None = None,
                       timestamp: int | None = None) -> TestResponse:
        return self.api.post(f"/api/v1/webhooks/payments/stripe/{endpoint or self.tenant_id}",
                             data=body, content_type="application/json",
                             headers={"Stripe-Signature": sign(body, secret, timestamp)})

    def intent_event(self, intent_id: str, type_: str = "payment_intent.succeeded",
                     event_id: str | None = None) -> str:
        return self.stripe.event(type_, dict(self.stripe.intents[intent_id]), event_id)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Outbox events of the tenant (what payments emitted), oldest first."""
        from kernel.runtime.events import OutboxEvent
        from kernel.tenancy.scope import platform_scope

        with self.app.app_context(), platform_scope():
            from kernel.data.session import db

            rows = db.session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.created_at)).all()
            return [{"name": r.name, **r.payload} for r in rows if name is None or r.name == name]

    def payment(self, payment_id: str) -> dict[str, Any]:
        resp = self.api.get(f"{PAYMENTS}/{payment_id}", self.owner)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]


def configure(api: Api, owner: Account, **config: Any) -> TestResponse:
    return api.put("/api/v1/plugins/payments/config", owner, json=config)


def stripe_config(**overrides: Any) -> dict[str, Any]:
    return {"secret_key": STRIPE_SECRET, "publishable_key": "pk_test_alpha",
            "webhook_secret": WEBHOOK_SECRET, **overrides}


def enable(api: Api, owner: Account, *names: str) -> None:
    for name in names:
        resp = api.put(f"/api/v1/plugins/{name}/activation", owner, json={"enabled": True})
        assert resp.status_code == 200, resp.get_json()


@pytest.fixture
def payments_app(plugin_app: Callable[..., Flask]) -> Flask:
    shop.reset()
    acmepay.BOOKED.clear()
    return plugin_app(payments_plugin, shop, acmepay)


@pytest.fixture
def world(payments_app: Flask, fake_stripe: FakeStripe, fake_paynow: FakePaynow) -> World:
    api = Api(payments_app.test_client(), payments_app)
    owner = api.register("acme")
    enable(api, owner, "payments", "shop")
    fake_paynow.integrations[PAYNOW_ID] = PAYNOW_KEY
    resp = configure(api, owner, stripe=stripe_config(),
                     paynow={"integration_id": PAYNOW_ID, "integration_key": PAYNOW_KEY})
    assert resp.status_code == 200, resp.get_json()
    return World(payments_app, api, owner, fake_stripe, fake_paynow)


def drain(app: Flask) -> None:
    """Deliver queued events (a burst rq worker on the Redis profile; inline otherwise)."""
    from tests.conftest import drain_jobs

    drain_jobs(app)


def paid_intent(world: World, ref: str = "o-1", amount: int = 2500) -> dict[str, Any]:
    """A payment whose Stripe intent the payer has paid (no webhook delivered yet)."""
    world.order(ref, amount)
    payment = world.pay(ref)
    world.stripe.succeed(payment["provider_ref"])
    return payment


def now() -> int:
    return int(time.time())


def new_id() -> str:
    return str(uuid.uuid4())


def as_json(obj: Any) -> str:
    return json.dumps(obj)
