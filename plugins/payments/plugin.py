"""The ``payments`` plugin: its manifest and thin hook implementations.

Other plugins make things payable (``plugboard_resolve_payable``) and learn the outcome
from ``payments.payment.*`` events; providers (Stripe, Paynow, manual, and any
third-party plugin's) implement :class:`hookspecs.PaymentProvider`. See
``docs/payments.md``.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_smorest import Blueprint

from hookspecs import JobSpec, PaymentProvider, PluginInfo, hookimpl
from kernel.api import add_demo_seeder
from plugins.payments import admin, api, demo, jobs, public, webhooks
from plugins.payments.config import CONFIG_SCHEMA
from plugins.payments.providers import builtin_providers

plugin_info = PluginInfo(
    name="payments",
    version="1.0.0",
    title="Payments",
    description="Payments through Stripe, Paynow or by hand; payment links, refunds, disputes.",
    kernel=">=1.1,<2",  # contract 1.1: payment hooks, admin blueprints, emit and enqueue
    config_schema=CONFIG_SCHEMA,
    permissions={"payments.read": "analyst", "payments.write": "manager",
                 "payments.refund": "admin"},
    default_enabled=False,
    migrations=str(Path(__file__).resolve().parent / "migrations"),
)


@hookimpl
def plugboard_blueprints(app: Flask) -> list[Blueprint]:
    add_demo_seeder(app, demo.seed)
    return [api.blp]


@hookimpl
def plugboard_public_blueprints() -> list[Blueprint]:
    return [public.blp]


@hookimpl
def plugboard_webhook_blueprints() -> list[Blueprint]:
    return [webhooks.blp]


@hookimpl
def plugboard_admin_blueprints() -> list[Blueprint]:
    return [admin.blp]


@hookimpl
def plugboard_payment_providers() -> list[PaymentProvider]:
    return builtin_providers()


@hookimpl
def plugboard_jobs() -> list[JobSpec]:
    return jobs.specs()
