"""Shared set-up of the ``ticketing`` tests: an app with ticketing, pages and the fakepay
collector, a tenant that enabled them, and shortcuts for events and orders."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from kernel.data.session import db
from kernel.runtime import events
from kernel.tenancy.scope import tenant_scope
from plugins.pages import plugin as pages_plugin
from plugins.ticketing import plugin as ticketing_plugin
from tests.conftest import drain_jobs
from tests.helpers import Account, Api
from tests.testplugins import fakepay

BASE = "/api/v1/ticketing"
PUBLIC = "/api/v1/public/ticketing"


def soon(days: int = 10, hours: int = 0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days, hours=hours)).isoformat()


@dataclass
class Shop:
    app: Flask
    api: Api
    owner: Account

    @property
    def tenant_id(self) -> uuid.UUID:
        return uuid.UUID(self.owner.tenant_id)

    def enable(self, plugin: str, account: Account | None = None, on: bool = True) -> None:
        resp = self.api.put(f"/api/v1/plugins/{plugin}/activation", account or self.owner,
                            json={"enabled": on})
        assert resp.status_code == 200, resp.get_json()

    def event(self, slug: str = "summer-fest", publish: bool = True, account: Account | None = None,
              **fields: Any) -> dict[str, Any]:
        body = {"title": "Summer Fest", "slug": slug, "starts_at": soon(), "ends_at": soon(10, 5),
                "timezone": "Europe/Berlin", "venue": "Harbour", **fields}
        resp = self.api.post(f"{BASE}/events", account or self.owner, json=body)
        assert resp.status_code == 201, resp.get_json()
        event: dict[str, Any] = resp.get_json()
        if publish:
            self.publish(event["id"], account)
        return event

    def publish(self, event_id: str, account: Account | None = None) -> None:
        resp = self.api.post(f"{BASE}/events/{event_id}/publish", account or self.owner)
        assert resp.status_code == 200, resp.get_json()

    def ticket_type(self, event_id: str, name: str = "Standard", amount: int = 2500,
                    currency: str = "EUR", account: Account | None = None, **fields: Any) -> dict[str, Any]:
        body = {"name": name, "price": {"amount": amount, "currency": currency}, **fields}
        resp = self.api.post(f"{BASE}/events/{event_id}/ticket-types", account or self.owner, json=body)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]

    def quota(self, event_id: str, size: int, *type_ids: str, name: str = "Hall") -> dict[str, Any]:
        resp = self.api.post(f"{BASE}/events/{event_id}/quotas", self.owner,
                             json={"name": name, "size": size, "ticket_types": list(type_ids)})
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]

    def order(self, slug: str, *items: tuple[str, int], email: str = "buyer@example.com",
              name: str = "Bea Buyer", tenant: str | None = None, **extra: Any) -> TestResponse:
        body = {"event": slug, "items": [{"ticket_type": t, "quantity": n} for t, n in items],
                "email": email, "name": name, **extra}
        return self.api.post(f"{PUBLIC}/orders", json=body,
                             headers={"X-Tenant": tenant or self.owner.tenant_slug})

    def placed(self, slug: str, *items: tuple[str, int], **kw: Any) -> dict[str, Any]:
        resp = self.order(slug, *items, **kw)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]

    def public(self, path: str, tenant: str | None = None, **kw: Any) -> TestResponse:
        headers = {"X-Tenant": tenant or self.owner.tenant_slug, **kw.pop("headers", {})}
        return self.api.get(PUBLIC + path, headers=headers, **kw)

    def read_order(self, code: str, secret: str) -> dict[str, Any]:
        resp = self.public(f"/orders/{code}", query_string={"secret": secret})
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]

    def emit(self, name: str, payload: dict[str, Any]) -> None:
        """Announce a payments event through the kernel's outbox, and deliver it."""
        with self.app.app_context():
            events.emit(self.tenant_id, name, payload)
            db.session.commit()
        drain_jobs(self.app)

    def pay(self, order: dict[str, Any], **changes: Any) -> None:
        payment_id = order["payment"]["payment_id"]
        self.emit("payments.payment.succeeded", fakepay.succeeded_payload(payment_id, **changes))

    def run(self, func: Callable[[], Any]) -> Any:
        """``func()`` in the tenant's scope, committed."""
        with self.app.app_context(), tenant_scope(self.tenant_id):
            result = func()
            db.session.commit()
            return result


@pytest.fixture
def shop(plugin_app: Callable[..., Flask]) -> Shop:
    app = plugin_app(ticketing_plugin, pages_plugin, fakepay)
    api = Api(app.test_client(), app)
    owner = api.register("acme")
    made = Shop(app, api, owner)
    made.enable("ticketing")
    fakepay.reset()
    return made


@pytest.fixture
def paid_shop(shop: Shop) -> Shop:
    """The shop with the fakepay collector switched on."""
    shop.enable("fakepay")
    return shop
