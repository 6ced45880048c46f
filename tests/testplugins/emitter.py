"""The ``emitter`` test plugin: emits events and enqueues jobs through ``kernel.api`` only,
and answers the payment cooperation hooks the way a collecting plugin would."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from hookspecs import EventHandler, JobSpec, PluginInfo, PluginRefusal, hookimpl
from kernel.api import emit, enqueue

plugin_info = PluginInfo(name="emitter", version="1.0.0", title="Emitter")

SEEN: list[tuple[str, Any]] = []


def announce(name: str, payload: dict[str, Any]) -> uuid.UUID:
    return emit(name, payload)


def later(label: str) -> None:
    enqueue("emitter.work", label=label)


def work(tenant_id: uuid.UUID | None, label: str) -> None:
    SEEN.append(("job", (tenant_id, label)))


def on_thing(tenant_id: uuid.UUID, payload: Mapping[str, Any]) -> None:
    SEEN.append(("event", (tenant_id, dict(payload))))


@hookimpl
def plugboard_jobs() -> list[JobSpec]:
    return [JobSpec("emitter.work", work)]


@hookimpl
def plugboard_event_handlers() -> list[EventHandler]:
    return [EventHandler("emitter.thing.happened", on_thing, name="emitter.on_thing")]


@hookimpl
def plugboard_start_payment(kind: str, ref: str, provider: str | None) -> dict[str, Any] | None:
    if kind != "emitter.bill":
        return None
    if ref == "paid":
        raise PluginRefusal("this bill is paid already", status=409, type_="payable-paid")
    return {"payment_id": f"pay-{ref}", "status": "pending", "amount": 500, "currency": "USD",
            "provider": provider or "manual"}


@hookimpl
def plugboard_payment_link(kind: str, ref: str) -> dict[str, Any] | None:
    if kind != "emitter.bill":
        return None
    return {"token": f"tok-{ref}", "url": f"https://pay.example/{ref}", "expires_at": None}


@hookimpl
def plugboard_refund_payment(payment_id: str, amount: int | None) -> dict[str, Any] | None:
    if not payment_id.startswith("pay-"):
        return None
    return {"refund_id": f"ref-{payment_id}", "status": "succeeded", "amount": amount or 500,
            "currency": "USD"}
