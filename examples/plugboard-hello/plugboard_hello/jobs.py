"""Background work. Job and event functions take ids, not objects, and open the
tenant's scope themselves: they run in a worker, long after the request."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from kernel.api import db, tenant_scope, utcnow
from plugboard_hello.models import HelloMessage

RETENTION_DAYS = 90


def purge_old_messages(tenant_id: uuid.UUID | str, days: int = RETENTION_DAYS) -> int:
    """Delete the tenant's messages older than ``days``; returns how many went."""
    cutoff = utcnow() - dt.timedelta(days=days)
    with tenant_scope(tenant_id):
        result = db.session.execute(
            sa.delete(HelloMessage).where(HelloMessage.created_at < cutoff),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def answer_question(tenant_id: uuid.UUID, message_id: str) -> None:
    """Enqueued for each new question: the bot answers it on the board.

    Runs inside the job's tenant scope (the kernel opens it and commits after).
    """
    message = db.session.get(HelloMessage, uuid.UUID(message_id))
    if message is not None and message.author != "hello":
        db.session.add(HelloMessage(text=f"Good question: {message.text[:60]}", author="hello"))


def thank_for_payment(tenant_id: uuid.UUID | str, payload: Mapping[str, Any]) -> None:
    """``payments.payment.succeeded`` (emitted by the payments plugin): say thanks on the board.

    Plugins never import each other; the event's payload is all this one knows.
    """
    amount, currency = payload.get("amount"), payload.get("currency")
    paid = f" of {amount / 100:.2f} {currency}" if isinstance(amount, int) and currency else ""
    with tenant_scope(tenant_id):
        db.session.add(HelloMessage(text=f"Thank you for your payment{paid}.", author="hello"))
        db.session.commit()
