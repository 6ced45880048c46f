"""``plugboard demo``: give the demo tenant two templates, a text log and an ended call, once.

Nothing is sent: the rows are written as Twilio and Vapi would have left them, so the
log, filters and call details have something to show without provider accounts.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import sqlalchemy as sa

from kernel.api import db, utcnow
from plugins.comms import segments
from plugins.comms.models import INBOUND, OUTBOUND, Call, Message, OptOut, Template

SHOP = "+15005550006"  # Twilio's magic test number: valid, never billed
TEMPLATES = {
    "appointment-reminder": "Hi {{ name }}, a reminder of your appointment on {{ when }}. "
                            "Reply STOP to opt out.",
    "order-ready": "{{ name }}, your order {{ number }} is ready for collection.",
}


def _message(direction: str, to: str, from_: str, body: str, status: str, minutes_ago: int) -> Message:
    counted = segments.count(body)
    at = utcnow() - dt.timedelta(minutes=minutes_ago)
    return Message(direction=direction, to_number=to, from_number=from_, body=body, status=status,
                   segments=counted.count, encoding=counted.encoding, created_at=at, updated_at=at,
                   provider_sid="SM" + uuid.uuid4().hex, attempts=1 if direction == OUTBOUND else 0)


def seed(tenant_id: uuid.UUID) -> None:
    """Add the demo rows unless the tenant has templates already (idempotent)."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Template)):
        return
    for name, body in TEMPLATES.items():
        db.session.add(Template(name=name, body=body, description="Seeded by plugboard demo"))
    customer = "+263771234567"
    db.session.add_all([
        _message(OUTBOUND, customer, SHOP, "Hi Tendai, a reminder of your appointment on Friday "
                 "at 10:00. Reply STOP to opt out.", "delivered", 90),
        _message(INBOUND, SHOP, customer, "Thanks, see you then 👍", "received", 80),
        _message(OUTBOUND, "+263772000111", SHOP, "Your order 1042 is ready for collection.", "sent", 5),
        OptOut(number="+263773999888", source="keyword", keyword="STOP"),
        Call(direction=OUTBOUND, number=customer, status="ended", provider_call_id=str(uuid.uuid4()),
             assistant_id="demo-assistant", transcript="AI: Hello Tendai, calling to confirm Friday.\n"
             "User: Yes, that works.", summary="Tendai confirmed Friday's appointment.",
             recording_url="https://example.com/recordings/demo.wav", duration_seconds=42.5,
             cost=decimal.Decimal("0.0731"), ended_reason="customer-ended-call",
             ended_at=utcnow() - dt.timedelta(minutes=60)),
    ])
    db.session.commit()
