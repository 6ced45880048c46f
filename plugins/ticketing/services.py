"""The catalogue: events, their ticket types, shared quotas and check-in lists.

No Flask in here. Runs in the caller's tenant scope; flushes, never commits. Orders live
in :mod:`.orders`, capacity in :mod:`.capacity`, check-in in :mod:`.checkin`. Every
change a storefront can see announces itself to the storefront cache (:mod:`.cache`),
which every process drops once the transaction commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from kernel.api import db, utcnow
from plugins.ticketing import cache, capacity, money, states
from plugins.ticketing.errors import InUse, Invalid, NotFound, SlugTaken
from plugins.ticketing.models import (
    CheckinList,
    Event,
    Order,
    Quota,
    QuotaMember,
    Ticket,
    TicketType,
)

EVENT_FIELDS = ("title", "slug", "description", "venue", "timezone", "starts_at", "ends_at")
TYPE_FIELDS = ("name", "description", "capacity", "min_per_order", "max_per_order", "sales_start",
               "sales_end", "hidden", "position")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# -- events ---------------------------------------------------------------------------------


def events_query(status: str | None = None, q: str | None = None) -> sa.Select[Any]:
    stmt = sa.select(Event)
    if status:
        stmt = stmt.where(Event.status == status)
    if q:
        stmt = stmt.where(sa.func.lower(Event.title).contains(q.lower(), autoescape=True))
    return stmt.order_by(Event.starts_at, Event.id)


def get_event(event_id: uuid.UUID) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound("No such event.")
    return event


def _check_event(values: dict[str, Any]) -> None:
    if values["timezone"] not in _zones():
        raise Invalid(f"Unknown time zone {values['timezone']!r}; use an IANA name such as "
                      "'Europe/Berlin'.", field="timezone")
    if values["ends_at"] <= values["starts_at"]:
        raise Invalid("ends_at must be after starts_at.", field="ends_at")


def _slug_free(slug: str, event_id: uuid.UUID | None) -> None:
    other = db.session.scalar(sa.select(Event.id).where(Event.slug == slug))
    if other is not None and other != event_id:
        raise SlugTaken(f"Another event of yours already has the slug {slug!r}.")


def create_event(tenant_id: uuid.UUID, data: dict[str, Any]) -> Event:
    values = {"description": "", "venue": "", "timezone": "UTC", **data}
    _check_event(values)
    _slug_free(values["slug"], None)
    event = Event(tenant_id=tenant_id, **{k: values[k] for k in EVENT_FIELDS})
    db.session.add(event)
    db.session.flush()
    return event


def update_event(tenant_id: uuid.UUID, event_id: uuid.UUID, changes: dict[str, Any]) -> Event:
    event = get_event(event_id)
    merged = {k: changes.get(k, getattr(event, k)) for k in EVENT_FIELDS}
    _check_event(merged)
    if "slug" in changes:
        _slug_free(changes["slug"], event.id)
    for key, value in changes.items():
        setattr(event, key, value)
    event.updated_at = utcnow()
    db.session.flush()
    cache.announce(tenant_id)
    return event


def delete_event(tenant_id: uuid.UUID, event_id: uuid.UUID) -> None:
    event = get_event(event_id)
    if db.session.scalar(sa.select(Order.id).where(Order.event_id == event.id).limit(1)) is not None:
        raise InUse("The event has orders; cancel it instead of deleting it.")
    db.session.delete(event)
    db.session.flush()
    cache.announce(tenant_id)


def publish_event(tenant_id: uuid.UUID, event_id: uuid.UUID) -> Event:
    event = get_event(event_id)
    states.move("event", event, states.PUBLISHED)
    event.published_at = event.updated_at = utcnow()
    db.session.flush()
    cache.announce(tenant_id)
    return event


def cancel_event(tenant_id: uuid.UUID, event_id: uuid.UUID) -> Event:
    """Stop selling; orders stay as they are (staff cancel or refund them one by one)."""
    event = get_event(event_id)
    states.move("event", event, states.CANCELLED)
    event.cancelled_at = event.updated_at = utcnow()
    db.session.flush()
    cache.announce(tenant_id)
    return event


def set_cover(tenant_id: uuid.UUID, event_id: uuid.UUID, key: str) -> Event:
    event = get_event(event_id)
    event.cover_key, event.updated_at = key, utcnow()
    db.session.flush()
    cache.announce(tenant_id)
    return event


# -- ticket types ----------------------------------------------------------------------------


def ticket_types(event_id: uuid.UUID) -> list[TicketType]:
    return list(db.session.scalars(sa.select(TicketType).where(TicketType.event_id == event_id)
                                   .order_by(TicketType.position, TicketType.created_at)))


def get_ticket_type(event_id: uuid.UUID, type_id: uuid.UUID) -> TicketType:
    found = db.session.get(TicketType, type_id)
    if found is None or found.event_id != event_id:
        raise NotFound("No such ticket type of this event.")
    return found


def _check_type(event_id: uuid.UUID, values: dict[str, Any], type_id: uuid.UUID | None) -> None:
    if not money.is_currency(values["currency"]):
        raise Invalid(f"{values['currency']!r} is not an ISO 4217 currency code.", field="price.currency")
    others = db.session.scalars(sa.select(TicketType.currency).where(
        TicketType.event_id == event_id, TicketType.id != (type_id or uuid.uuid4())))
    if any(c != values["currency"] for c in others):
        raise Invalid("Every ticket type of an event is priced in the same currency.",
                      field="price.currency")
    if values["max_per_order"] < values["min_per_order"]:
        raise Invalid("max_per_order must be at least min_per_order.", field="max_per_order")
    start, end = values.get("sales_start"), values.get("sales_end")
    if start is not None and end is not None and end <= start:
        raise Invalid("sales_end must be after sales_start.", field="sales_end")


def create_ticket_type(tenant_id: uuid.UUID, event_id: uuid.UUID, data: dict[str, Any]) -> TicketType:
    get_event(event_id)
    values = {"description": "", "capacity": None, "min_per_order": 1, "max_per_order": 10,
              "hidden": False, "position": 0, **data}
    values["price_amount"], values["currency"] = values["price"]["amount"], values["price"]["currency"]
    _check_type(event_id, values, None)
    row = TicketType(tenant_id=tenant_id, event_id=event_id, price_amount=values["price_amount"],
                     currency=values["currency"], **{k: values.get(k) for k in TYPE_FIELDS})
    db.session.add(row)
    db.session.flush()
    _sync_own_quota(tenant_id, row)
    cache.announce(tenant_id)
    return row


def update_ticket_type(tenant_id: uuid.UUID, event_id: uuid.UUID, type_id: uuid.UUID,
                       changes: dict[str, Any]) -> TicketType:
    row = get_ticket_type(event_id, type_id)
    price = changes.pop("price", None)
    merged = {k: changes.get(k, getattr(row, k)) for k in TYPE_FIELDS}
    merged["currency"] = price["currency"] if price else row.currency
    _check_type(event_id, merged, row.id)
    for key, value in changes.items():
        setattr(row, key, value)
    if price:
        row.price_amount, row.currency = price["amount"], price["currency"]
    db.session.flush()
    _sync_own_quota(tenant_id, row)
    cache.announce(tenant_id)
    return row


def delete_ticket_type(tenant_id: uuid.UUID, event_id: uuid.UUID, type_id: uuid.UUID) -> None:
    row = get_ticket_type(event_id, type_id)
    if db.session.scalar(sa.select(Ticket.id).where(Ticket.ticket_type_id == row.id).limit(1)):
        raise InUse("Tickets of this type were sold; hide it instead of deleting it.")
    db.session.delete(row)
    db.session.flush()
    cache.announce(tenant_id)


def _sync_own_quota(tenant_id: uuid.UUID, row: TicketType) -> None:
    """A type's ``capacity`` is a quota of its own, so capacity is always a quota check."""
    own = db.session.scalar(sa.select(Quota).where(Quota.ticket_type_id == row.id))
    if row.capacity is None:
        if own is not None:
            db.session.delete(own)
            db.session.flush()
        return
    if own is None:
        own = Quota(tenant_id=tenant_id, event_id=row.event_id, name=f"{row.name} (capacity)",
                    size=row.capacity, ticket_type_id=row.id)
        db.session.add(own)
        db.session.flush()
        db.session.add(QuotaMember(tenant_id=tenant_id, quota_id=own.id, ticket_type_id=row.id))
        db.session.flush()
        own.sold = capacity.count_sold(own.id)
    own.size = row.capacity
    db.session.flush()


# -- shared quotas ---------------------------------------------------------------------------


def quotas(event_id: uuid.UUID) -> list[Quota]:
    """The event's shared quotas (types' own capacities are shown on the types)."""
    return list(db.session.scalars(sa.select(Quota).where(
        Quota.event_id == event_id, Quota.ticket_type_id.is_(None)).order_by(Quota.created_at)))


def quota_members(quota_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    ids = list(quota_ids)
    if not ids:
        return found
    for quota_id, type_id in db.session.execute(
            sa.select(QuotaMember.quota_id, QuotaMember.ticket_type_id)
            .where(QuotaMember.quota_id.in_(ids))):
        found.setdefault(quota_id, []).append(type_id)
    return found


def get_quota(event_id: uuid.UUID, quota_id: uuid.UUID) -> Quota:
    found = db.session.get(Quota, quota_id)
    if found is None or found.event_id != event_id or found.ticket_type_id is not None:
        raise NotFound("No such quota of this event.")
    return found


def _types_of_event(event_id: uuid.UUID, type_ids: list[uuid.UUID], field: str) -> list[uuid.UUID]:
    wanted = list(dict.fromkeys(type_ids))
    known = set(db.session.scalars(sa.select(TicketType.id).where(
        TicketType.event_id == event_id, TicketType.id.in_(wanted))))
    for n, type_id in enumerate(wanted):
        if type_id not in known:
            raise Invalid(f"Ticket type {type_id} is not a ticket type of this event.", field=f"{field}.{n}")
    return wanted


def create_quota(tenant_id: uuid.UUID, event_id: uuid.UUID, data: dict[str, Any]) -> Quota:
    get_event(event_id)
    type_ids = _types_of_event(event_id, data["ticket_types"], "ticket_types")
    quota = Quota(tenant_id=tenant_id, event_id=event_id, name=data["name"], size=data["size"])
    db.session.add(quota)
    db.session.flush()
    db.session.add_all(QuotaMember(tenant_id=tenant_id, quota_id=quota.id, ticket_type_id=t)
                       for t in type_ids)
    db.session.flush()
    quota.sold = capacity.count_sold(quota.id)  # types already sold count against it
    db.session.flush()
    cache.announce(tenant_id)
    return quota


def update_quota(tenant_id: uuid.UUID, event_id: uuid.UUID, quota_id: uuid.UUID,
                 changes: dict[str, Any]) -> Quota:
    """Rename, resize or re-member a quota. Shrinking below what is sold stops sales only."""
    quota = get_quota(event_id, quota_id)
    capacity.lock([quota.id])  # sales of its types wait until the new members are in
    if "ticket_types" in changes:
        type_ids = _types_of_event(event_id, changes.pop("ticket_types"), "ticket_types")
        db.session.execute(sa.delete(QuotaMember).where(QuotaMember.quota_id == quota.id))
        db.session.add_all(QuotaMember(tenant_id=tenant_id, quota_id=quota.id, ticket_type_id=t)
                           for t in type_ids)
        db.session.flush()
        quota.sold = capacity.count_sold(quota.id)
    for key, value in changes.items():
        setattr(quota, key, value)
    db.session.flush()
    cache.announce(tenant_id)
    return quota


def delete_quota(tenant_id: uuid.UUID, event_id: uuid.UUID, quota_id: uuid.UUID) -> None:
    db.session.delete(get_quota(event_id, quota_id))
    db.session.flush()
    cache.announce(tenant_id)


# -- check-in lists ---------------------------------------------------------------------------


def checkin_lists(event_id: uuid.UUID) -> list[CheckinList]:
    get_event(event_id)
    return list(db.session.scalars(sa.select(CheckinList).where(CheckinList.event_id == event_id)
                                   .order_by(CheckinList.created_at)))


def create_checkin_list(tenant_id: uuid.UUID, event_id: uuid.UUID, data: dict[str, Any]) -> CheckinList:
    get_event(event_id)
    type_ids = _types_of_event(event_id, data.get("ticket_types") or [], "ticket_types")
    row = CheckinList(tenant_id=tenant_id, event_id=event_id, name=data["name"],
                      all_types=not type_ids, ticket_type_ids=[str(t) for t in type_ids])
    db.session.add(row)
    db.session.flush()
    return row


# -- the storefront's view -------------------------------------------------------------------


def published_event(ref: str) -> Event | None:
    """A published (or cancelled after publishing) event by slug or id; drafts never."""
    stmt = sa.select(Event).where(Event.status != states.DRAFT)
    try:
        stmt = stmt.where(sa.or_(Event.slug == ref, Event.id == uuid.UUID(ref)))
    except ValueError:
        stmt = stmt.where(Event.slug == ref)
    return db.session.scalars(stmt).first()


def listed_events(now: dt.datetime | None = None) -> list[Event]:
    """Published events that have not ended, soonest first."""
    return list(db.session.scalars(sa.select(Event).where(
        Event.status == states.PUBLISHED, Event.ends_at > (now or utcnow()))
        .order_by(Event.starts_at, Event.id)))
