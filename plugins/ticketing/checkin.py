"""Check-in: a scanned ticket secret → ``ok``, ``already_redeemed``, ``unpaid``,
``cancelled`` or ``unknown``, recorded once per scanner ``nonce``.

A scanner that did not hear the answer sends the same nonce again and gets the first
answer back, not ``already_redeemed``. Offline scanners upload their scans later with
``scanned_at``; each is judged when it arrives, in the order of their scan times within
one upload. Two scanners reading the same ticket at once queue on the ticket's row lock,
so only one of them gets ``ok``. No Flask in here; flushes, never commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kernel.api import db, emit, utcnow
from plugins.ticketing import states
from plugins.ticketing.errors import Invalid, NotFound
from plugins.ticketing.models import Checkin, CheckinList, Order, Ticket, TicketType

OK, ALREADY, UNPAID, CANCELLED, UNKNOWN = "ok", "already_redeemed", "unpaid", "cancelled", "unknown"
#: how far ahead of the server's clock a scanner's clock may be
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Scan:
    secret: str
    nonce: str
    list_id: uuid.UUID | None = None
    scanned_at: dt.datetime | None = None


def _first_answer(nonce: str) -> Checkin | None:
    return db.session.scalars(sa.select(Checkin).where(Checkin.nonce == nonce)).one_or_none()


def _list(list_id: uuid.UUID | None) -> CheckinList | None:
    if list_id is None:
        return None
    found = db.session.get(CheckinList, list_id)
    if found is None:
        raise NotFound("No such check-in list.")
    return found


def _locked_ticket(secret: str) -> Ticket | None:
    if db.session.get_bind().dialect.name == "sqlite":  # take SQLite's write lock first
        db.session.execute(sa.update(Ticket).where(Ticket.secret == secret).values(secret=Ticket.secret))
    return db.session.scalars(sa.select(Ticket).where(Ticket.secret == secret).with_for_update()
                              .execution_options(populate_existing=True)).one_or_none()


def _admitted(ticket: Ticket, checkin_list: CheckinList | None) -> bool:
    if checkin_list is None:
        return True
    return ticket.event_id == checkin_list.event_id and (
        checkin_list.all_types or str(ticket.ticket_type_id) in checkin_list.ticket_type_ids)


def _decide(ticket: Ticket | None, checkin_list: CheckinList | None) -> str:
    if ticket is None or not _admitted(ticket, checkin_list):
        return UNKNOWN
    status = db.session.scalar(sa.select(Order.status).where(Order.id == ticket.order_id))
    if status in (states.PENDING, states.EXPIRED):
        return UNPAID
    if status != states.PAID:
        return CANCELLED
    list_id = checkin_list.id if checkin_list else None
    redeemed = db.session.scalar(sa.select(Checkin.id).where(
        Checkin.ticket_id == ticket.id, Checkin.result == OK,
        Checkin.list_id.is_(None) if list_id is None else Checkin.list_id == list_id).limit(1))
    return ALREADY if redeemed is not None else OK


def scan(tenant_id: uuid.UUID, request: Scan) -> tuple[Checkin, Ticket | None]:
    """Judge and record one scan (or give back the answer its nonce already got)."""
    now = utcnow()
    scanned_at = request.scanned_at or now
    if scanned_at > now + CLOCK_SKEW:
        raise Invalid("scanned_at is in the future; check the scanner's clock.", field="scanned_at")
    first = _first_answer(request.nonce)
    if first is not None:
        return first, db.session.get(Ticket, first.ticket_id) if first.ticket_id else None
    checkin_list = _list(request.list_id)
    ticket = _locked_ticket(request.secret)
    result = _decide(ticket, checkin_list)
    row = Checkin(tenant_id=tenant_id, nonce=request.nonce, list_id=request.list_id,
                  ticket_id=ticket.id if ticket and result != UNKNOWN else None, result=result,
                  scanned_at=scanned_at)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except sa.exc.IntegrityError:  # the same nonce, sent twice at once: the first one wins
        first = _first_answer(request.nonce)
        assert first is not None
        return first, db.session.get(Ticket, first.ticket_id) if first.ticket_id else None
    if result == OK and ticket is not None:
        emit("ticketing.ticket.checked_in", {"ticket_id": str(ticket.id), "order_id": str(ticket.order_id),
                                             "event_id": str(ticket.event_id),
                                             "list_id": str(request.list_id) if request.list_id else None,
                                             "scanned_at": scanned_at.isoformat()})
    return row, ticket if row.ticket_id else None


def scan_many(tenant_id: uuid.UUID, scans: Sequence[Scan]) -> list[tuple[Checkin, Ticket | None]]:
    """An offline scanner's upload: judged in scan-time order, answered in upload order."""
    order = sorted(range(len(scans)), key=lambda n: scans[n].scanned_at or utcnow())
    answers: dict[int, tuple[Checkin, Ticket | None]] = {}
    for n in order:
        answers[n] = scan(tenant_id, scans[n])
    return [answers[n] for n in range(len(scans))]


def describe(row: Checkin, ticket: Ticket | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"id": str(row.id), "result": row.result, "nonce": row.nonce,
                              "list": str(row.list_id) if row.list_id else None,
                              "scanned_at": row.scanned_at.isoformat(), "ticket": None}
    if ticket is not None:
        order = db.session.get(Order, ticket.order_id)
        type_name = db.session.scalar(sa.select(TicketType.name)
                                      .where(TicketType.id == ticket.ticket_type_id))
        assert order is not None
        answer["ticket"] = {"id": str(ticket.id), "ticket_type": type_name, "order_code": order.code,
                            "attendee_name": ticket.attendee_name or order.name}
    return answer


def checked_in(event_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Ticket type → tickets of the event checked in at least once."""
    rows = db.session.execute(
        sa.select(Ticket.ticket_type_id, sa.func.count(sa.distinct(Ticket.id)))
        .join(Checkin, Checkin.ticket_id == Ticket.id)
        .where(Ticket.event_id == event_id, Checkin.result == OK)
        .group_by(Ticket.ticket_type_id))
    return {type_id: int(n) for type_id, n in rows}
