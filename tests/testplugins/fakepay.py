"""The ``fakepay`` test plugin: collects money the way a third-party payments plugin would,
through the cooperation hooks only (``plugboard_start_payment``, ``plugboard_refund_payment``).

It asks the payable's owner what is due (``plugboard_resolve_payable``), never the caller,
and remembers what it started and refunded in memory. Tests announce the outcome with
``kernel.runtime.events.emit(tenant_id, "payments.payment.succeeded", …)``, as the payments plugin
would, so the owner's handlers run through the real outbox.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from hookspecs import PluginInfo, PluginRefusal, hookimpl
from kernel.api import tenant_hook

plugin_info = PluginInfo(name="fakepay", version="1.0.0", title="Fake payments")

STARTED: dict[str, dict[str, Any]] = {}
REFUNDS: list[dict[str, Any]] = []
_ids = itertools.count(1)
_lock = threading.Lock()


def reset() -> None:
    STARTED.clear()
    REFUNDS.clear()


def _due(tenant_id: uuid.UUID, kind: str, ref: str) -> Mapping[str, Any]:
    answer = tenant_hook("plugboard_resolve_payable")(tenant_id=tenant_id, kind=kind, ref=ref)
    if answer is None:
        raise PluginRefusal(f"nothing payable is {kind} {ref}", status=404, type_="payable-not-found")
    if not isinstance(answer, Mapping):  # contract 1.1's Payable
        return {"amount": answer.amount, "currency": answer.currency}
    return answer


@hookimpl
def plugboard_start_payment(tenant_id: uuid.UUID, kind: str, ref: str, provider: str | None,
                            return_url: str | None) -> dict[str, Any] | None:
    if provider == "broken":
        raise PluginRefusal("fakepay: provider 'broken' is not configured", status=409,
                            type_="provider-not-configured")
    due = _due(tenant_id, kind, ref)
    with _lock:
        payment_id = f"fp-{next(_ids)}"
    STARTED[payment_id] = {"kind": kind, "ref": ref, "amount": due["amount"], "currency": due["currency"],
                           "tenant_id": tenant_id}
    return {"payment_id": payment_id, "status": "pending", "amount": due["amount"],
            "currency": due["currency"], "provider": provider or "fakepay",
            "client_secret": f"cs_{payment_id}", "return_url": return_url}


@hookimpl
def plugboard_refund_payment(payment_id: str, amount: int | None,
                             reason: str | None) -> dict[str, Any] | None:
    started = STARTED.get(payment_id)
    if started is None:
        return None
    refund = {"refund_id": f"re-{payment_id}-{len(REFUNDS) + 1}", "payment_id": payment_id,
              "status": "succeeded", "amount": amount or started["amount"], "currency": started["currency"],
              "reason": reason}
    with _lock:
        REFUNDS.append(refund)
    return refund


def succeeded_payload(payment_id: str, **changes: Any) -> dict[str, Any]:
    """What payments emits when ``payment_id`` succeeds."""
    started = STARTED[payment_id]
    payload = {"payment_id": payment_id, "kind": started["kind"], "ref": started["ref"],
               "amount": started["amount"], "currency": started["currency"], "provider": "fakepay"}
    payload.update(changes)
    return payload
