"""No oversell, on PostgreSQL, with truly concurrent buyers against a real HTTP server.

The app runs in werkzeug's threaded server on loopback (every request its own thread and
database connection); 200 buyers start together behind a barrier. These are correctness
tests; figures live in bench/ticketing.py.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from kernel.data.session import db
from kernel.tenancy.scope import tenant_scope
from plugins.ticketing import capacity, orders, paying
from plugins.ticketing.models import Order, Quota, Ticket
from tests.plugins.ticketing.conftest import PUBLIC, Shop
from tests.testplugins import fakepay

pytestmark = pytest.mark.postgres_only
BUYERS = 200
SEATS_LEFT = 50


@pytest.fixture
def server(paid_shop: Shop) -> Iterator[int]:
    srv = make_server("127.0.0.1", 0, paid_shop.app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port
    srv.shutdown()
    thread.join(10)


def _post(port: int, slug: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", f"{PUBLIC}/orders", body=json.dumps(body),
                     headers={"Content-Type": "application/json", "X-Tenant": slug})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def _together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job in its own thread, released at once; their results (or exceptions)."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = jobs[n]()
        except Exception as exc:  # reported by the asserts below
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads), "a buyer hung: deadlock?"
    return results


def _held(shop: Shop, quota_id: str) -> int:
    """Seats in use; the paid-seat counter must agree with the tickets."""
    def count() -> int:
        quota = db.session.get(Quota, uuid.UUID(quota_id))
        assert quota is not None and quota.sold == capacity.count_sold(quota.id)
        return capacity.used([quota.id])[quota.id]
    return int(shop.run(count))


def _shared_quota(shop: Shop, size: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Guest", 0)
    paid = shop.ticket_type(event["id"], "Standard", 1500)
    return free, paid, shop.quota(event["id"], size, free["id"], paid["id"])


def test_200_buyers_for_the_last_50_seats_of_a_shared_quota(paid_shop: Shop, server: int) -> None:
    shop = paid_shop
    free, paid, quota = _shared_quota(shop, 100)
    for n in range(SEATS_LEFT):  # the first 50 seats are gone already, half paid, half pending
        shop.placed("summer-fest", ((free if n % 2 else paid)["id"], 1), email=f"early{n}@example.com")
    bodies = [{"event": "summer-fest", "email": f"b{n}@example.com", "name": f"Buyer {n}",
               "items": [{"ticket_type": (free if n % 2 else paid)["id"], "quantity": 1}]}
              for n in range(BUYERS)]
    results = _together([lambda b=b: _post(server, "acme", b) for b in bodies])
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    statuses = [status for status, _ in results]
    assert statuses.count(201) == SEATS_LEFT, sorted(set(statuses))
    assert statuses.count(409) == BUYERS - SEATS_LEFT
    assert all(body["type"].endswith("/sold-out") for status, body in results if status == 409)
    assert _held(shop, quota["id"]) == 100

    def sold() -> int:
        return int(db.session.scalar(sa.select(sa.func.count(Ticket.id))) or 0)
    assert shop.run(sold) == 100 + 0  # refused buyers left nothing behind

    def numbers() -> list[int | None]:
        return list(db.session.scalars(sa.select(Order.number).where(Order.status == "paid")))
    paid_numbers = shop.run(numbers)  # free orders are paid at once, each numbered
    assert sorted(paid_numbers) == list(range(1, len(paid_numbers) + 1))  # unique, no gap


def test_expiries_and_late_payments_racing_new_buyers(paid_shop: Shop, server: int) -> None:
    """50 pending orders expire; 50 late payments, the expiry job and 100 new buyers race."""
    shop = paid_shop
    _free, paid, quota = _shared_quota(shop, SEATS_LEFT)
    pending = [shop.placed("summer-fest", (paid["id"], 1), email=f"late{n}@example.com")
               for n in range(SEATS_LEFT)]

    def expire_all() -> None:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.session.execute(sa.update(Order).values(expires_at=past))
    shop.run(expire_all)
    assert _held(shop, quota["id"]) == 0

    def late(order: dict[str, Any]) -> str:
        with shop.app.app_context(), tenant_scope(shop.tenant_id):
            outcome = paying.on_succeeded(fakepay.succeeded_payload(order["payment"]["payment_id"]))
            db.session.commit()
            return outcome

    def expiry_job() -> int:
        with shop.app.app_context(), tenant_scope(shop.tenant_id):
            done = orders.expire_due()
            db.session.commit()
            return done

    bodies = [{"event": "summer-fest", "email": f"new{n}@example.com", "name": "New",
               "items": [{"ticket_type": paid["id"], "quantity": 1}]} for n in range(100)]
    jobs: list[Callable[[], Any]] = [lambda o=o: late(o) for o in pending]
    jobs += [lambda b=b: _post(server, "acme", b) for b in bodies] + [expiry_job, expiry_job]
    results = _together(jobs)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    outcomes, answers = results[:SEATS_LEFT], results[SEATS_LEFT:SEATS_LEFT + 100]
    assert set(outcomes) <= {"paid", "paid late", "refunded"}
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {201, 409}, statuses
    paid_late = sum(o != "refunded" for o in outcomes)
    assert paid_late + statuses.count(201) == SEATS_LEFT  # every seat sold exactly once
    assert _held(shop, quota["id"]) == SEATS_LEFT
    assert len(fakepay.REFUNDS) == outcomes.count("refunded")
    refunded = {r["payment_id"] for r in fakepay.REFUNDS}

    def states() -> dict[str, str]:
        return {o.payment_id: o.status for o in db.session.scalars(
            sa.select(Order).where(Order.email.like("late%")))}
    final = shop.run(states)
    assert all(final[p] == "expired" for p in refunded)
    assert sum(s == "paid" for s in final.values()) == paid_late
