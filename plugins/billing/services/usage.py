"""Usage events in, and usage out (per metric and period).

Ingestion is all or nothing: every event of a batch is checked first (a bad one is a 422
naming it, nothing stored), then the batch goes in as one multi-row
``INSERT … ON CONFLICT (tenant_id, transaction_id) DO NOTHING`` (on PostgreSQL the rows
come from ``json_to_recordset()`` of one parameter; SQLite gets a VALUES list), so a
repeated ``transaction_id`` — in the batch, or sent before — is
accepted and not counted twice. Accepted timestamps lie in a window: at most
:data:`FUTURE` ahead of the server's clock, at most :data:`PAST` behind it, and never in
a period already invoiced (its invoice could not change any more).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from kernel.api import db
from plugins.billing import pricing
from plugins.billing.errors import InvalidUsage
from plugins.billing.models import Invoice, UsageEvent
from plugins.billing.periods import label, month_start

PAST = dt.timedelta(days=31)
FUTURE = dt.timedelta(minutes=5)
MAX_BATCH = 1000


def ingest(tenant_id: uuid.UUID, events: Sequence[Mapping[str, Any]], now: dt.datetime,
           pointer: str = "/events") -> dict[str, int]:
    """Store ``events`` (validated by the schema); ``{"accepted", "duplicates"}``."""
    rows = _rows(tenant_id, events, now, pointer)
    if not rows:
        return {"accepted": 0, "duplicates": 0}
    _refuse_invoiced(tenant_id, rows, pointer)
    if db.session.get_bind().dialect.name == "postgresql":
        inserted = _insert_postgresql(tenant_id, rows)
    else:
        for row in rows:
            row["id"] = uuid.uuid4()
        table = UsageEvent.__table__
        statement = sqlite.insert(table).on_conflict_do_nothing(
            index_elements=["tenant_id", "transaction_id"])
        inserted = len(db.session.execute(statement.returning(table.c.id), rows).all())
    return {"accepted": len(events), "duplicates": len(events) - inserted}


# One statement with one JSON parameter, whatever the batch size: a 1,000-row VALUES list
# has 7,000 placeholders, which psycopg re-parses on every call (it caches only short
# statements) and PostgreSQL plans anew; json_to_recordset() keeps the text short and the
# parameter is one string (json.dumps, in C). Row-level security's WITH CHECK still
# refuses rows of another tenant.
_RECORDSET_INSERT = sa.text(
    "INSERT INTO billing_usage_events (id, tenant_id, transaction_id, metric, timestamp, properties, "
    "created_at) SELECT gen_random_uuid(), CAST(:tenant AS uuid), r.t, r.m, r.s, r.p, :created "
    "FROM json_to_recordset(CAST(:rows AS json)) AS r(t varchar, m varchar, s timestamptz, p json) "
    "ON CONFLICT (tenant_id, transaction_id) DO NOTHING RETURNING id")


def _insert_postgresql(tenant_id: uuid.UUID, rows: list[dict[str, Any]]) -> int:
    payload = json.dumps([{"t": r["transaction_id"], "m": r["metric"], "s": r["timestamp"].isoformat(),
                           "p": r["properties"]} for r in rows], separators=(",", ":"))
    params = {"tenant": str(tenant_id), "created": rows[0]["created_at"], "rows": payload}
    return len(db.session.execute(_RECORDSET_INSERT, params).all())


def _at(pointer: str, index: int) -> str:
    """The JSON pointer of event ``index``: ``/events/3``, or ``""`` for a single event."""
    return f"{pointer}/{index}" if pointer else ""


def _rows(tenant_id: uuid.UUID, events: Sequence[Mapping[str, Any]], now: dt.datetime,
          pointer: str) -> list[dict[str, Any]]:
    errors: list[tuple[str, str]] = []
    rows: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        at = event.get("timestamp") or now
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        if at > now + FUTURE or at < now - PAST:
            errors.append((f"{_at(pointer, index)}/timestamp",
                           f"must lie between {(now - PAST):%Y-%m-%dT%H:%M:%SZ} and "
                           f"{(now + FUTURE):%Y-%m-%dT%H:%M:%SZ} (server time)"))
            continue
        rows.append({"tenant_id": tenant_id, "created_at": now,
                     "transaction_id": event["transaction_id"], "metric": event["metric"],
                     "timestamp": at, "properties": dict(event.get("properties") or {}),
                     "_index": index})
    if errors:
        raise InvalidUsage(errors)
    return rows


def _refuse_invoiced(tenant_id: uuid.UUID, rows: list[dict[str, Any]], pointer: str) -> None:
    for row in rows:
        row["_period"] = month_start(row["timestamp"])
    starts = {r["_period"] for r in rows}
    closed = set(db.session.scalars(
        sa.select(Invoice.period_start).where(Invoice.tenant_id == tenant_id,
                                              Invoice.period_start.in_(starts))))
    errors = [(f"{_at(pointer, r['_index'])}/timestamp",
               f"period {label(r['_period'])} is already invoiced")
              for r in rows if r["_period"] in closed]
    if errors:
        raise InvalidUsage(errors)
    for row in rows:
        del row["_index"], row["_period"]


def _in_period(tenant_id: uuid.UUID, metric: str, start: dt.datetime, end: dt.datetime) -> Any:
    return (UsageEvent.tenant_id == tenant_id, UsageEvent.metric == metric,
            UsageEvent.timestamp >= start, UsageEvent.timestamp < end)


def quantity(tenant_id: uuid.UUID, charge: Mapping[str, Any], start: dt.datetime,
             end: dt.datetime) -> Decimal:
    """The metric's aggregated quantity over ``[start, end)``, as the charge defines it."""
    where = _in_period(tenant_id, charge["metric"], start, end)
    if charge["aggregation"] == "count":
        return Decimal(db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)
                                         .where(*where)) or 0)
    rows = db.session.scalars(sa.select(UsageEvent.properties).where(*where)
                              .execution_options(yield_per=5000))
    return pricing.aggregate(charge["aggregation"], charge.get("property"), rows)


def counts(tenant_id: uuid.UUID, start: dt.datetime, end: dt.datetime,
           metric: str | None = None) -> dict[str, int]:
    """Events per metric over ``[start, end)``."""
    query = (sa.select(UsageEvent.metric, sa.func.count())
             .where(UsageEvent.tenant_id == tenant_id, UsageEvent.timestamp >= start,
                    UsageEvent.timestamp < end).group_by(UsageEvent.metric))
    if metric:
        query = query.where(UsageEvent.metric == metric)
    return {m: int(n) for m, n in db.session.execute(query)}


def report(start: dt.datetime, end: dt.datetime, tenant_id: uuid.UUID | None,
           metric: str | None) -> list[dict[str, Any]]:
    """Events per tenant and metric (platform scope: every tenant unless one is named)."""
    query = (sa.select(UsageEvent.tenant_id, UsageEvent.metric, sa.func.count())
             .where(UsageEvent.timestamp >= start, UsageEvent.timestamp < end)
             .group_by(UsageEvent.tenant_id, UsageEvent.metric)
             .order_by(UsageEvent.tenant_id, UsageEvent.metric))
    if tenant_id:
        query = query.where(UsageEvent.tenant_id == tenant_id)
    if metric:
        query = query.where(UsageEvent.metric == metric)
    return [{"tenant_id": t, "metric": m, "events": int(n)} for t, m, n in db.session.execute(query)]
