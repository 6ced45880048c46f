"""The ``collector`` test plugin: collects money for other plugins the way a third-party
payments plugin would, through the contract only (``plugboard_start_payment``,
``plugboard_payment_link``), asking the owner what is due with
``plugboard_resolve_payable``. Tests then emit ``payments.payment.succeeded`` through the
kernel outbox as if the provider had confirmed the payment."""

from __future__ import annotations

import uuid
from typing import Any

from hookspecs import PluginInfo, hookimpl
from kernel.api import tenant_hook

plugin_info = PluginInfo(name="collector", version="1.0.0", title="Collector")

STARTED: list[dict[str, Any]] = []


def _due(tenant_id: uuid.UUID, kind: str, ref: str) -> dict[str, Any] | None:
    # PluginRefusal from the owner (paid, void) propagates to the caller, as with payments
    answer = tenant_hook("plugboard_resolve_payable")(tenant_id=tenant_id, kind=kind, ref=ref)
    return dict(answer) if answer else None


@hookimpl
def plugboard_start_payment(tenant_id: uuid.UUID, kind: str, ref: str, provider: str | None,
                            return_url: str | None) -> dict[str, Any] | None:
    due = _due(tenant_id, kind, ref)
    if due is None:
        return None
    payment = {"payment_id": f"pay_{uuid.uuid4().hex[:12]}", "status": "requires_action",
               "amount": due["amount"], "currency": due["currency"], "provider": provider or "fake",
               "receiving_account": due.get("receiving_account"),
               "redirect_url": f"https://pay.example/checkout/{ref}", "return_url": return_url}
    STARTED.append({**payment, "kind": kind, "ref": ref, "tenant_id": tenant_id})
    return payment


@hookimpl
def plugboard_payment_link(tenant_id: uuid.UUID, kind: str, ref: str) -> dict[str, Any] | None:
    if _due(tenant_id, kind, ref) is None:
        return None
    return {"token": f"tok_{ref}", "url": f"https://pay.example/l/tok_{ref}", "expires_at": None}
