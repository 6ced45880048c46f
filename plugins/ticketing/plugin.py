"""The ``ticketing`` plugin: its manifest and thin hook implementations.

Tenants sell tickets to events through ``/api/v1/ticketing`` (staff) and
``/api/v1/public/ticketing`` (storefront); paid tickets are collected by whichever
enabled plugin answers ``plugboard_start_payment`` (the payments plugin). See
``docs/ticketing.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_smorest import Blueprint

from hookspecs import EventHandler, JobSpec, PluginInfo, hookimpl
from kernel.api import add_demo_seeder, add_public_responder, mailer
from plugins.ticketing import api, api_orders, cache, components, customers, demo, jobs, paying, storefront

plugin_info = PluginInfo(
    name="ticketing",
    version="1.0.0",
    title="Ticketing",
    description="Events, ticket types, shared quotas, orders that never oversell, and check-in.",
    kernel=">=1.1,<2",  # contract 1.1: customers, emit and enqueue, payment and sms hooks
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "order_expiry_minutes": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 15,
                                     "description": "How long an unpaid order holds its seats."},
            "max_tickets_per_order": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50,
                                      "description": "Most tickets in one order."},
            "availability_ttl": {"type": "integer", "minimum": 1, "maximum": 300, "default": 5,
                                 "description": "Seconds the storefront's event listing (with seats "
                                                "left) is reused before it is counted again."},
        },
    },
    permissions={"ticketing.read": "analyst", "ticketing.write": "manager",
                 "ticketing.checkin": "support"},
    migrations=str(Path(__file__).resolve().parent / "migrations"),
)

assert api_orders.blp is api.blp  # the orders, attendee and check-in routes are on it


@hookimpl
def plugboard_blueprints(app: Flask) -> list[Blueprint]:
    add_demo_seeder(app, demo.seed)  # `plugboard demo`: an event with tickets on sale
    with app.app_context():
        mailer().add_templates("plugins.ticketing")  # tenants may override them
    return [api.blp]


@hookimpl
def plugboard_public_blueprints(app: Flask) -> list[Blueprint]:
    store = cache.install(app)
    add_public_responder(app, "ticketing", storefront.responder(store))  # warm hits skip Flask
    return [storefront.blp]


@hookimpl
def plugboard_jobs() -> list[JobSpec]:
    return [JobSpec("ticketing.expire_orders", jobs.expire_orders, cron="* * * * *"),
            JobSpec("ticketing.send_confirmation", jobs.send_confirmation, retry=3)]


def on_payment_succeeded(payload: Mapping[str, Any]) -> None:
    paying.on_succeeded(payload)


def on_payment_refunded(payload: Mapping[str, Any]) -> None:
    paying.on_refunded(payload)


@hookimpl
def plugboard_event_handlers() -> list[EventHandler]:
    return [EventHandler("payments.payment.succeeded", on_payment_succeeded,
                         name="ticketing.on_payment_succeeded"),
            EventHandler("payments.payment.refunded", on_payment_refunded,
                         name="ticketing.on_payment_refunded")]


@hookimpl
def plugboard_resolve_payable(kind: str, ref: str) -> Any:
    return paying.payable(ref) if kind == paying.KIND else None


@hookimpl
def plugboard_page_components() -> list[dict[str, Any]]:
    return components.DECLARED


@hookimpl
def plugboard_component_data(component_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return components.data(component_type, props)


@hookimpl
def plugboard_customer_timeline(customer_id: uuid.UUID) -> list[dict[str, Any]]:
    return customers.timeline(customer_id)


@hookimpl
def plugboard_customer_export(customer_id: uuid.UUID) -> dict[str, Any] | None:
    return customers.export(customer_id)


@hookimpl
def plugboard_customer_erase(customer_id: uuid.UUID) -> None:
    customers.erase(customer_id)


@hookimpl
def plugboard_config_changed(tenant_id: uuid.UUID, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    if old != new:
        cache.announce(tenant_id)  # the cache's lifetime comes from the config
