"""``plugboard demo``: a settled manual payment and a partial refund, if payments is on.

The demo has no payable plugin of its own to ask, so the seeder writes the rows a
cash sale would leave (a payment of a demo order and a refund of part of it), once.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from kernel.api import db, tenant_scope, utcnow
from plugins.payments import states
from plugins.payments.models import Payment, Refund

KIND, REF = "demo.order", "1001"


def seed(tenant_id: uuid.UUID) -> None:
    """Idempotent: nothing happens when the demo payment exists."""
    with tenant_scope(tenant_id):
        if db.session.scalar(sa.select(Payment.id).where(Payment.kind == KIND, Payment.ref == REF)):
            return
        payment = Payment(kind=KIND, ref=REF, provider="manual", amount=2500, currency="USD",
                          description="Demo order 1001 (cash)", status=states.PARTIALLY_REFUNDED,
                          amount_refunded=500, note="Seeded by plugboard demo", created_by="demo",
                          settled_at=utcnow())
        db.session.add(payment)
        db.session.flush()
        payment.provider_ref = f"manual-{payment.id}"
        db.session.add(Refund(payment_id=payment.id, provider="manual", provider_ref=f"demo-{payment.id}",
                              amount=500, currency="USD", status="succeeded",
                              reason="Demo: one item returned",
                              created_by="demo"))
        db.session.commit()
