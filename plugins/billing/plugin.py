"""The ``billing`` plugin: its manifest and thin hook implementations.

The platform operator bills its tenants: plans with recurring fees and metered charges,
usage events, monthly invoices (PDF, mail, payment link), credits, dunning and
suspension. Restricted: only platform admins switch it on or off for a tenant. It gets
paid through whichever enabled plugin answers ``plugboard_start_payment`` (payments),
never by importing it. Operators: ``docs/billing.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_smorest import Blueprint

from hookspecs import EventHandler, JobSpec, PluginInfo, PluginRefusal, hookimpl
from kernel.api import add_demo_seeder, mailer, utcnow
from plugins.billing import admin, api, demo, guard, jobs
from plugins.billing.errors import BillingError, NotFound
from plugins.billing.services import collect, plans

plugin_info = PluginInfo(
    name="billing",
    version="1.0.0",
    title="Billing",
    description="The platform bills its tenants: plans, usage metering, invoices, credits, "
                "dunning and suspension.",
    kernel=">=1.1,<2",  # contract 1.1: customers, emit and enqueue, payment and sms hooks
    permissions={"billing.read": "analyst", "billing.pay": "admin", "billing.usage": "manager"},
    restricted=True,
    default_enabled=False,
    migrations=str(Path(__file__).resolve().parent / "migrations"),
)


@hookimpl
def plugboard_blueprints(app: Flask) -> list[Blueprint]:
    guard.install(app)
    with app.app_context():
        mailer().add_templates("plugins.billing")
    add_demo_seeder(app, demo.seed)  # `plugboard demo`: plans, an account, usage, an invoice
    return [api.blp]


@hookimpl
def plugboard_admin_blueprints(app: Flask) -> list[Blueprint]:
    return [admin.admin_blp]


@hookimpl
def plugboard_jobs() -> list[JobSpec]:
    return jobs.specs()


def on_payment(tenant_id: uuid.UUID, payload: Mapping[str, Any]) -> None:
    collect.on_payment_event(tenant_id, payload, utcnow())


@hookimpl
def plugboard_event_handlers() -> list[EventHandler]:
    return [EventHandler("payments.payment.succeeded", on_payment, name="billing.on_payment_succeeded"),
            EventHandler("payments.payment.refunded", on_payment, name="billing.on_payment_refunded")]


@hookimpl
def plugboard_tenant_enabled(tenant_id: uuid.UUID) -> None:
    plans.account(tenant_id)  # every billed tenant has an account from the start


@hookimpl
def plugboard_request_guard(tenant_id: uuid.UUID, endpoint: str) -> None:
    guard.check(tenant_id, endpoint)


@hookimpl
def plugboard_resolve_payable(tenant_id: uuid.UUID, kind: str, ref: str) -> Mapping[str, Any] | None:
    if kind != collect.KIND:
        return None
    try:
        return collect.payable(tenant_id, ref)
    except NotFound:
        return None
    except BillingError as exc:
        raise PluginRefusal(exc.detail, status=409, type_="invoice-not-payable") from exc
