"""Shared fixtures of the billing tests: an app with billing and a test collector (the
payments contract), a platform admin, a billed tenant on a plan, API keys, and helpers
that run jobs and deliver outbox events the way the kernel does."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from kernel.api import tenant_scope
from kernel.runtime import events
from plugins.billing import plugin as billing_plugin
from tests.helpers import Account, Api
from tests.testplugins import collector

ADMIN = "/api/v1/admin/billing"
BILLING = "/api/v1/billing"

PLAN = {"code": "growth", "name": "Growth", "currency": "EUR",
        "fees": [{"name": "Platform", "amount": 2900, "interval": "month"}],
        "charges": [{"metric": "api_calls", "aggregation": "count", "model": "per_unit",
                     "unit_amount": "0.5"}]}


@pytest.fixture
def app(plugin_app: Callable[..., Flask]) -> Flask:
    return plugin_app(billing_plugin, collector)


@dataclass
class Billed:
    """A tenant with billing enabled by the platform admin, and the admin."""

    owner: Account
    admin: Account
    tenant_id: uuid.UUID

    def key(self, api: Api, role: str = "manager") -> dict[str, str]:
        resp = api.post("/api/v1/api-keys", self.owner, json={"name": f"meter-{role}", "role": role})
        assert resp.status_code == 201, resp.get_json()
        return {"Authorization": f"Bearer {resp.get_json()['key']}"}


def enable_billing(api: Api, admin: Account, tenant_id: str, on: bool = True) -> None:
    resp = api.put(f"/api/v1/admin/tenants/{tenant_id}/plugins/billing", admin, json={"enabled": on})
    assert resp.status_code == 200, resp.get_json()


def create_plan(api: Api, admin: Account, **changes: Any) -> dict[str, Any]:
    resp = api.post(f"{ADMIN}/plans", admin, json={**PLAN, **changes})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def set_account(api: Api, admin: Account, tenant_id: uuid.UUID | str, **changes: Any) -> dict[str, Any]:
    resp = api.patch(f"{ADMIN}/accounts/{tenant_id}", admin, json=changes)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def billed_tenant(api: Api, admin: Account, slug: str, plan: str | None = "growth",
                  collector_on: bool = True, **account: Any) -> Billed:
    """A new tenant with billing on (by the admin), the test collector on (payments' stand-in)."""
    owner = api.register(slug)
    enable_billing(api, admin, owner.tenant_id)
    if collector_on:
        resp = api.put("/api/v1/plugins/collector/activation", owner, json={"enabled": True})
        assert resp.status_code == 200, resp.get_json()
    changes = {"email": f"billing@{slug}.example.com", "name": f"{slug.title()} Ltd", **account}
    if plan:
        changes["plan"] = plan
    set_account(api, admin, owner.tenant_id, **changes)
    return Billed(owner, admin, uuid.UUID(owner.tenant_id))


@pytest.fixture
def admin(api: Api) -> Account:
    return api.make_admin()


@pytest.fixture
def billed(api: Api, admin: Account) -> Billed:
    create_plan(api, admin)
    return billed_tenant(api, admin, "acme")


def run_job(app: Flask, name: str, tenant_id: uuid.UUID, key: str | None = None, **kwargs: Any) -> str:
    """Run a job through the kernel's wrapper (its scope, commit, job_runs row, key)."""
    from kernel.runtime.jobs import execute

    with app.app_context():
        return execute(name, str(tenant_id), kwargs, key)


def drain(app: Flask) -> None:
    """Deliver queued events and jobs (a burst rq worker on Redis; inline otherwise)."""
    from tests.conftest import drain_jobs

    drain_jobs(app)


def emit_payment(app: Flask, tenant_id: uuid.UUID, invoice_id: str, amount: int, currency: str = "EUR",
                 name: str = "payments.payment.succeeded", **extra: Any) -> None:
    """``payments.payment.succeeded`` through the kernel outbox, as payments would emit it."""
    from kernel.api import db

    payload = {"payment_id": extra.pop("payment_id", f"pay_{uuid.uuid4().hex[:10]}"),
               "kind": "billing.invoice", "ref": invoice_id, "amount": amount, "currency": currency,
               "provider": "fake", **extra}
    with app.app_context(), tenant_scope(tenant_id):
        events.emit(tenant_id, name, payload)
        db.session.commit()
    drain(app)


def relogin(api: Api, account: Account) -> Account:
    """The same account with tokens issued at the (possibly frozen) current time."""
    tokens = api.login(account.email, tenant=account.tenant_slug or None)
    return Account(account.email, account.password, account.user_id, account.tenant_id,
                   account.tenant_slug, tokens["access_token"], tokens["refresh_token"])
