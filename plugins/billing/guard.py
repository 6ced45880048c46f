"""The request guard: a suspended tenant's API calls answer 402 ``billing-suspended``.

It runs before every authenticated request of a tenant that has billing enabled, so it
reads no database on the hot path: each process keeps every tenant's suspended flag in
memory, loaded on first sight of the tenant (one indexed row) and dropped when
:func:`announce` is called after a status change. :func:`kernel.api.broadcast` carries that
to every process once the transaction commits, so paying reactivates a tenant at once
everywhere. A load that raced with a change is not kept (generation check).

Billing's own routes (but usage ingestion), authentication and the tenant routes stay
open, so a suspended tenant can still sign in and pay.
"""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa
from flask import Flask, current_app

from hookspecs import PluginRefusal
from kernel.api import after_commit, broadcast, db

TOPIC = "billing.status"
EXTENSION = "billing.guard"
OPEN_BLUEPRINTS = frozenset({"billing", "auth", "tenant", "mail_templates"})
#: billing endpoints a suspended tenant may not use (its metering stops too)
GUARDED_BILLING = frozenset({"billing.usage_events"})


class StatusCache:
    """tenant id -> suspended?; reads take no lock (a dict look-up is atomic)."""

    def __init__(self) -> None:
        self._suspended: dict[uuid.UUID, bool] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, tenant_id: uuid.UUID) -> bool | None:
        return self._suspended.get(tenant_id)

    def generation(self) -> int:
        return self._generation

    def put(self, tenant_id: uuid.UUID, suspended: bool, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._suspended[tenant_id] = suspended

    def drop(self, key: str | None) -> None:
        with self._lock:
            self._generation += 1
            if key is None:
                self._suspended.clear()
            else:
                self._suspended.pop(uuid.UUID(key), None)


def install(app: Flask) -> StatusCache:
    cache = StatusCache()
    app.extensions[EXTENSION] = cache
    broadcast(app).subscribe(TOPIC, cache.drop)
    return cache


def announce(tenant_id: uuid.UUID) -> None:
    """Every process forgets the tenant's status once the current transaction commits."""
    bus = broadcast()
    after_commit(lambda: bus.publish(TOPIC, str(tenant_id)))


def is_suspended(tenant_id: uuid.UUID) -> bool:
    cache: StatusCache = current_app.extensions[EXTENSION]
    found = cache.get(tenant_id)
    if found is not None:
        return found
    broadcast().ensure_listening()  # once per process: hear other processes' changes
    generation = cache.generation()
    from plugins.billing.models import Account

    status = db.session.scalar(sa.select(Account.status).where(Account.tenant_id == tenant_id))
    suspended = status == "suspended"
    cache.put(tenant_id, suspended, generation)
    return suspended


def check(tenant_id: uuid.UUID, endpoint: str) -> None:
    """Raise the 402 refusal when the tenant is suspended and the route is not left open."""
    blueprint = endpoint.partition(".")[0]
    if blueprint in OPEN_BLUEPRINTS and endpoint not in GUARDED_BILLING:
        return
    if is_suspended(tenant_id):
        raise PluginRefusal("The account is suspended for non-payment: pay the open invoices "
                            "(GET /api/v1/billing/invoices) to lift it.", status=402,
                            type_="billing-suspended")
