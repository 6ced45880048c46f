"""``benchpay``: the payable plugin of the payments benchmark.

Every ``benchpay.order`` is due 10.00 USD; its handler of ``payments.payment.succeeded``
counts each delivery per payment in a Redis hash, so the benchmark sees lost (missing)
and duplicated (count > 1) deliveries across worker processes.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis

from hookspecs import EventHandler, Payable, PluginInfo, hookimpl
from kernel.services import kernel_services

plugin_info = PluginInfo(name="benchpay", version="1.0.0", title="Bench payable")
HANDLED = "benchpay:handled"
_clients: dict[str, redis.Redis] = {}


@hookimpl
def plugboard_resolve_payable(kind: str, ref: str) -> Payable | None:
    return Payable(1000, "USD", f"Bench order {ref}") if kind == "benchpay.order" else None


def on_paid(tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    settings = kernel_services().settings
    client = _clients.get(settings.redis_url) or _clients.setdefault(
        settings.redis_url, redis.Redis.from_url(settings.redis_url))
    client.hincrby(f"{settings.redis_namespace}:{HANDLED}", payload["payment_id"], 1)


@hookimpl
def plugboard_event_handlers() -> list[EventHandler]:
    return [EventHandler("payments.payment.succeeded", on_paid, name="benchpay:paid")]
