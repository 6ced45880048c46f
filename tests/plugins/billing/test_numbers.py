"""Invoice numbers: sequential per platform, gapless, never reused, under concurrency."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.api import db, platform_scope, tenant_scope
from plugins.billing.models import Invoice
from plugins.billing.services import invoices
from tests.helpers import Api
from tests.plugins.billing.conftest import billed_tenant, create_plan

THREADS = 20


def _drafts(app: Flask, tenants: list[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    out = []
    with app.app_context():
        for tenant in tenants:
            with tenant_scope(tenant):
                invoice = invoices.build(tenant, dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
                assert invoice is not None
                out.append((tenant, invoice.id))
                db.session.commit()
    return out


def _finalize(app: Flask, tenant: uuid.UUID, invoice_id: uuid.UUID, barrier: threading.Barrier,
              fail: bool, results: list[Any]) -> None:
    with app.app_context(), tenant_scope(tenant):
        try:
            invoice = invoices.get(tenant, invoice_id, lock=True)
            barrier.wait(timeout=30)  # all 20 transactions open before anyone takes a number
            invoices.finalize(invoice, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
            if fail:
                raise RuntimeError("rolled back after taking a number")
            db.session.commit()
            results.append(invoice.number)
        except RuntimeError:
            db.session.rollback()
            results.append(None)


@pytest.mark.postgres_only
def test_twenty_concurrent_finalisations_give_gapless_unique_numbers(api: Api, admin: Any) -> None:
    import time_machine

    with time_machine.travel(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), tick=True):
        from tests.plugins.billing.conftest import relogin

        admin = relogin(api, admin)
        create_plan(api, admin)
        tenants = [billed_tenant(api, admin, f"c{n}", collector_on=False).tenant_id for n in range(THREADS)]
    drafts = _drafts(api.app, tenants)
    barrier = threading.Barrier(THREADS)
    results: list[Any] = []
    # every fifth transaction rolls back after taking its number: the number is not lost
    threads = [threading.Thread(target=_finalize, args=(api.app, t, i, barrier, n % 5 == 4, results))
               for n, (t, i) in enumerate(drafts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    committed = sorted(r for r in results if r)
    assert len(results) == THREADS and len(committed) == 16
    assert committed == [f"INV-{n:06d}" for n in range(1, 17)]  # no duplicate, no gap
    with api.app.app_context(), platform_scope():
        stored = db.session.scalars(sa.select(Invoice.number).where(Invoice.number.is_not(None))).all()
    assert sorted(stored) == committed
