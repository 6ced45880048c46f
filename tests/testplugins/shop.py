"""``shop``: a third-party plugin whose orders are paid through ``payments``.

It never imports payments: it answers ``plugboard_resolve_payable`` for ``shop.order``
and handles ``payments.payment.*`` events. Orders live in memory (``ORDERS``); handled
events are kept in ``HANDLED`` so tests can count deliveries.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from hookspecs import EventHandler, Payable, PayableRefusal, PluginInfo, hookimpl

plugin_info = PluginInfo(name="shop", version="1.0.0", title="Shop (test)")

ORDERS: dict[tuple[str, str], dict[str, Any]] = {}
HANDLED: list[tuple[str, dict[str, Any]]] = []
_lock = threading.Lock()


def add_order(tenant_id: str, ref: str, amount: int, currency: str = "USD", state: str = "open",
              account: str = "tenant") -> None:
    ORDERS[(str(tenant_id), ref)] = {"amount": amount, "currency": currency, "state": state,
                                     "account": account}


def reset() -> None:
    ORDERS.clear()
    HANDLED.clear()


@hookimpl
def plugboard_resolve_payable(tenant_id: uuid.UUID, kind: str, ref: str) -> Payable | PayableRefusal | None:
    if kind != "shop.order":
        return None
    order = ORDERS.get((str(tenant_id), ref))
    if order is None:
        return None
    if order["state"] != "open":
        return PayableRefusal(order["state"], f"Order {ref} is {order['state']}.")
    return Payable(order["amount"], order["currency"], f"Shop order {ref}", account=order["account"])


def on_payment(event: str, tenant_id: uuid.UUID, payload: dict[str, Any]) -> None:
    with _lock:
        HANDLED.append((event, payload))
        order = ORDERS.get((str(tenant_id), payload["ref"]))
        if order is not None and event == "payments.payment.succeeded":
            order["state"] = "paid"


@hookimpl
def plugboard_event_handlers() -> list[EventHandler]:
    return [EventHandler(name, on_payment, name=f"shop:{name}") for name in (
        "payments.payment.succeeded", "payments.payment.failed", "payments.payment.refunded",
        "payments.payment.disputed")]
