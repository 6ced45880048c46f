"""Seats: what a quota has left, and the database locks that make selling them safe.

A quota's seats in use are ``Quota.sold`` (seats of paid orders, a counter changed only
under the quota's lock) plus the tickets of pending orders not yet past ``expires_at``,
counted from the few pending orders (index on status and expiry), never from every ticket
ever sold. A pending order therefore frees its seats the moment it expires, whether or
not the expiry job has run yet.

Whoever changes seats (a new order, a payment, a cancellation or refund of a paid order)
first locks every quota involved, ``SELECT … FOR UPDATE`` in ascending id order, then
counts, then writes, and keeps the locks until commit. Two buyers of the same quota queue
on its row; a fixed order means two buyers of overlapping quotas never deadlock. Order
rows are locked only after quotas, so the global lock order is quotas (by id) → order
rows. SQLite ignores ``FOR UPDATE``; there a no-op ``UPDATE`` of the quota rows takes
the database's single write lock first (SQLite serialises writers).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from kernel.api import db, utcnow
from plugins.ticketing import states
from plugins.ticketing.errors import SoldOut
from plugins.ticketing.models import Order, Quota, QuotaMember, Ticket, TicketType


def holds(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Orders whose tickets occupy seats at ``now``."""
    return sa.or_(Order.status == states.PAID,
                  sa.and_(Order.status == states.PENDING, Order.expires_at > now))


def quotas_of(type_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Ticket type → the quotas it counts against."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    ids = list(type_ids)
    if ids:
        for quota_id, type_id in db.session.execute(
                sa.select(QuotaMember.quota_id, QuotaMember.ticket_type_id)
                .where(QuotaMember.ticket_type_id.in_(ids))):
            found.setdefault(type_id, []).append(quota_id)
    return found


def needed(quantities: Mapping[uuid.UUID, int], membership: Mapping[uuid.UUID, list[uuid.UUID]]
           ) -> dict[uuid.UUID, int]:
    """Quota → seats the given ticket quantities take from it."""
    need: dict[uuid.UUID, int] = {}
    for type_id, quantity in quantities.items():
        for quota_id in membership.get(type_id, []):
            need[quota_id] = need.get(quota_id, 0) + quantity
    return need


def lock(quota_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Quota]:
    """Lock the quota rows in ascending id order (see the module docstring)."""
    ids = sorted(set(quota_ids))
    if not ids:
        return {}
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(sa.update(Quota).where(Quota.id.in_(ids)).values(size=Quota.size))
    rows = db.session.scalars(sa.select(Quota).where(Quota.id.in_(ids)).order_by(Quota.id)
                              .with_for_update().execution_options(populate_existing=True))
    return {q.id: q for q in rows}


def pending(quota_ids: Iterable[uuid.UUID], now: dt.datetime | None = None,
            exclude: uuid.UUID | None = None) -> dict[uuid.UUID, int]:
    """Quota → seats held by pending orders that have not expired at ``now`` (but ``exclude``)."""
    ids = list(quota_ids)
    counts = {quota_id: 0 for quota_id in ids}
    if not ids:
        return counts
    rows = db.session.execute(
        sa.select(QuotaMember.quota_id, sa.func.count(Ticket.id))
        .select_from(Order)
        .join(Ticket, Ticket.order_id == Order.id)
        .join(QuotaMember, QuotaMember.ticket_type_id == Ticket.ticket_type_id)
        .where(Order.status == states.PENDING, Order.expires_at > (now or utcnow()),
               QuotaMember.quota_id.in_(ids), Order.id != (exclude or uuid.UUID(int=0)))
        .group_by(QuotaMember.quota_id))
    counts.update({quota_id: int(n) for quota_id, n in rows})
    return counts


def used(quota_ids: Iterable[uuid.UUID], now: dt.datetime | None = None) -> dict[uuid.UUID, int]:
    """Quota → seats in use at ``now`` (paid, plus pending and unexpired)."""
    ids = list(quota_ids)
    if not ids:
        return {}
    sold_now = {q: n for q, n in db.session.execute(sa.select(Quota.id, Quota.sold).where(Quota.id.in_(ids)))}
    held = pending(ids, now)
    return {q: sold_now.get(q, 0) + held[q] for q in ids}


def count_sold(quota_id: uuid.UUID) -> int:
    """Seats of paid orders in ``quota_id``, counted from the tickets (for a new or
    re-membered quota, and for checks)."""
    return int(db.session.scalar(
        sa.select(sa.func.count(Ticket.id)).select_from(Ticket)
        .join(Order, Order.id == Ticket.order_id)
        .join(QuotaMember, QuotaMember.ticket_type_id == Ticket.ticket_type_id)
        .where(QuotaMember.quota_id == quota_id, Order.status == states.PAID)) or 0)


def add_sold(quantities: Mapping[uuid.UUID, int], sign: int,
             need: Mapping[uuid.UUID, int] | None = None) -> None:
    """A paid order came (``sign`` 1) or went (-1): move the counters of its quotas.

    The caller holds the quotas' locks (:func:`take` or :func:`lock_for`); ``need`` is
    what :func:`take` returned, when it ran.
    """
    if need is None:
        need = needed(quantities, quotas_of(quantities))
    for quota_id, n in need.items():
        db.session.execute(sa.update(Quota).where(Quota.id == quota_id)
                           .values(sold=Quota.sold + sign * n))


def lock_for(quantities: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, Quota]:
    """Lock the quotas that these ticket quantities count against."""
    return lock(needed(quantities, quotas_of(quantities)))


def take(quantities: Mapping[uuid.UUID, int], names: Mapping[uuid.UUID, str],
         exclude: uuid.UUID | None = None) -> dict[uuid.UUID, int]:
    """Lock the quotas these ticket quantities need and check they fit; else :class:`SoldOut`.

    The locks stay until the caller's transaction ends. The count comes after the lock,
    in a statement of its own: under READ COMMITTED it then sees every sale committed
    before the lock was granted. ``exclude`` is the caller's own (already written) order.
    Returns the seats taken per quota.
    """
    membership = quotas_of(quantities)
    need = needed(quantities, membership)
    locked = lock(need)
    held = pending(locked, exclude=exclude)
    in_use = {q: locked[q].sold + held[q] for q in locked}
    short = [q for q, n in need.items() if q in locked and in_use[q] + n > locked[q].size]
    if not short:
        return need
    left = {q: max(0, locked[q].size - in_use[q]) for q in short}
    types = sorted(names[t] for t, qs in membership.items() if any(q in short for q in qs))
    raise SoldOut(f"Not enough seats left for {', '.join(types)}.",
                  available=min(left.values()), ticket_types=types)


def availability(type_ids: list[uuid.UUID], now: dt.datetime | None = None) -> dict[uuid.UUID, int | None]:
    """Ticket type → seats left (the tightest of its quotas); None: no quota limits it."""
    membership = quotas_of(type_ids)
    quota_ids = {q for qs in membership.values() for q in qs}
    sizes = {q: n for q, n in db.session.execute(
        sa.select(Quota.id, Quota.size).where(Quota.id.in_(quota_ids)))} if quota_ids else {}
    in_use = used(quota_ids, now)
    left: dict[uuid.UUID, int | None] = {}
    for type_id in type_ids:
        quotas = membership.get(type_id)
        left[type_id] = None if not quotas else max(0, min(sizes[q] - in_use[q] for q in quotas))
    return left


def sold(event_id: uuid.UUID) -> dict[uuid.UUID, dict[str, int]]:
    """Ticket type → ``{"paid": n, "pending": n}`` tickets (pending: still holding seats)."""
    now = utcnow()
    rows = db.session.execute(
        sa.select(Ticket.ticket_type_id, Order.status, sa.func.count(Ticket.id))
        .join(Order, Order.id == Ticket.order_id)
        .where(Ticket.event_id == event_id, holds(now))
        .group_by(Ticket.ticket_type_id, Order.status))
    found: dict[uuid.UUID, dict[str, int]] = {}
    for type_id, status, n in rows:
        found.setdefault(type_id, {"paid": 0, "pending": 0})[status] = int(n)
    return found


def type_names(type_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = list(type_ids)
    return {t: name for t, name in db.session.execute(
        sa.select(TicketType.id, TicketType.name).where(TicketType.id.in_(ids)))} if ids else {}
