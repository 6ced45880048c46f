"""A customer's texts and calls: linking by phone, timeline, export and erasure.

Customers are the kernel's (contract 1.1): :func:`customer_for_phone` asks the kernel's
directory. The ``customer_timeline``/``export``/``erase`` functions below are what the
contract 1.1 hooks (``plugboard_customer_timeline`` …) answer; they run in the tenant's
scope.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from kernel.api import customer_by_phone, db, utcnow
from plugins.comms.models import Call, Message

ERASED = "[erased]"


def customer_for_phone(number: str) -> uuid.UUID | None:
    """The tenant's customer whose phone is ``number`` (E.164), if any."""
    customer = customer_by_phone(number)
    return customer.id if customer is not None else None


def _message_entry(m: Message) -> dict[str, Any]:
    return {"at": m.created_at, "type": f"comms.sms.{m.direction}", "ref": str(m.id),
            "title": m.body[:140], "data": {"status": m.status}}


def _call_entry(c: Call) -> dict[str, Any]:
    return {"at": c.created_at, "type": "comms.call.ended" if c.status == "ended" else "comms.call",
            "ref": str(c.id), "title": (c.summary or "Call")[:140], "data": {"status": c.status}}


def customer_timeline(customer_id: uuid.UUID) -> list[dict[str, Any]]:
    """Dated entries of the customer's texts and calls, newest first."""
    messages = db.session.scalars(sa.select(Message).where(Message.customer_id == customer_id))
    calls = db.session.scalars(sa.select(Call).where(Call.customer_id == customer_id))
    entries = [_message_entry(m) for m in messages] + [_call_entry(c) for c in calls]
    return sorted(entries, key=lambda e: e["at"], reverse=True)


def customer_export(customer_id: uuid.UUID) -> dict[str, Any]:
    """Everything comms keeps about the customer (data-subject access request)."""
    messages = db.session.scalars(sa.select(Message).where(Message.customer_id == customer_id)
                                  .order_by(Message.created_at))
    calls = db.session.scalars(sa.select(Call).where(Call.customer_id == customer_id)
                               .order_by(Call.created_at))
    return {
        "messages": [{"id": str(m.id), "direction": m.direction, "to": m.to_number, "from": m.from_number,
                      "body": m.body, "status": m.status, "created_at": m.created_at.isoformat()}
                     for m in messages],
        "calls": [{"id": str(c.id), "number": c.number, "status": c.status, "transcript": c.transcript,
                   "summary": c.summary, "recording_url": c.recording_url,
                   "created_at": c.created_at.isoformat()} for c in calls],
    }


def customer_erase(customer_id: uuid.UUID) -> int:
    """Blank the customer's texts and calls, keeping their dates, statuses and costs.

    Opt-outs are kept on purpose: forgetting a STOP would let texts reach the person
    again. Returns the number of rows anonymised.
    """
    now = utcnow()
    messages = db.session.execute(
        sa.update(Message).where(Message.customer_id == customer_id)
        .values(body=ERASED, to_number=ERASED, from_number=None, updated_at=now))
    calls = db.session.execute(
        sa.update(Call).where(Call.customer_id == customer_id)
        .values(number=None, transcript=None, summary=None, recording_url=None,
                call_metadata={}, updated_at=now))
    db.session.flush()
    return int(messages.rowcount or 0) + int(calls.rowcount or 0)  # type: ignore[attr-defined]
