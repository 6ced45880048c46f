"""Order transitions through the real outbox: payment, expiry, late payment both ways,
cancel, refund, illegal transitions (409), the payable answer, and staff reads."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa

from kernel.api import tenant_hook
from kernel.data.session import db
from kernel.runtime.events import OutboxEvent
from kernel.services import kernel_services
from plugins.ticketing.models import Order
from tests.conftest import drain_jobs
from tests.helpers import assert_problem
from tests.plugins.ticketing.conftest import BASE, Shop
from tests.testplugins import fakepay


def _event(shop: Shop, capacity: int | None = None, amount: int = 2500) -> dict[str, Any]:
    event = shop.event()
    extra = {"capacity": capacity} if capacity is not None else {}
    return shop.ticket_type(event["id"], "Standard", amount, **extra)


def _status(shop: Shop, order: dict[str, Any]) -> str:
    got = shop.api.get(f"{BASE}/orders/{order['id']}", shop.owner).get_json()
    return str(got["status"])


def _expire(shop: Shop, order: dict[str, Any], run_job: bool = True) -> None:
    def back_date() -> None:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        db.session.execute(sa.update(Order).where(Order.id == uuid.UUID(order["id"])).values(expires_at=past))
    shop.run(back_date)
    if run_job:
        from plugins.ticketing import jobs
        shop.run(lambda: jobs.expire_orders(shop.tenant_id))


def _emitted(shop: Shop) -> list[str]:
    def names() -> list[str]:
        return [e.name for e in db.session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.created_at))]
    return list(shop.run(names))


def test_pending_to_paid_through_the_payment_event(paid_shop: Shop, mailbox: Any) -> None:
    shop = paid_shop
    tt = _event(shop)
    order = shop.placed("summer-fest", (tt["id"], 2))
    shop.pay(order)
    assert _status(shop, order) == "paid"
    shop.pay(order)  # the same event again (a redelivery): applied once
    assert fakepay.REFUNDS == []
    assert len(shop.read_order(order["code"], order["secret"])["tickets"]) == 2
    assert "ticketing.order.placed" in _emitted(shop) and "ticketing.order.paid" in _emitted(shop)
    mails = mailbox.to("buyer@example.com")
    assert mails and order["code"] in mails[-1]["Subject"]
    body = mails[-1].get_payload(decode=True).decode()
    assert "Standard" in body and order["secret"] in body


def test_pending_to_expired_by_the_job_releases_the_seats(paid_shop: Shop) -> None:
    shop = paid_shop
    tt = _event(shop, capacity=1)
    order = shop.placed("summer-fest", (tt["id"], 1))
    assert_problem(shop.order("summer-fest", (tt["id"], 1)), 409, "sold-out")
    _expire(shop, order)
    assert _status(shop, order) == "expired"
    assert "ticketing.order.expired" in _emitted(shop)
    assert shop.placed("summer-fest", (tt["id"], 1))["status"] == "pending"


def test_late_payment_is_accepted_while_the_seats_are_free(paid_shop: Shop) -> None:
    shop = paid_shop
    tt = _event(shop, capacity=1)
    order = shop.placed("summer-fest", (tt["id"], 1))
    _expire(shop, order)
    shop.pay(order)
    assert _status(shop, order) == "paid" and fakepay.REFUNDS == []


def test_late_payment_is_refunded_when_the_seats_are_gone(paid_shop: Shop) -> None:
    shop = paid_shop
    tt = _event(shop, capacity=1)
    order = shop.placed("summer-fest", (tt["id"], 1))
    _expire(shop, order, run_job=False)  # not even recorded as expired yet: seats free anyway
    newer = shop.placed("summer-fest", (tt["id"], 1), email="quick@example.com")
    shop.pay(order)
    assert _status(shop, order) == "expired"
    assert [r["payment_id"] for r in fakepay.REFUNDS] == [order["payment"]["payment_id"]]
    assert _status(shop, newer) == "pending"
    # payments then reports the refund: recorded, the order stays expired
    shop.emit("payments.payment.refunded", fakepay.succeeded_payload(
        order["payment"]["payment_id"], refund_id="re-1", amount_refunded=2500, total_refunded=2500))
    got = shop.api.get(f"{BASE}/orders/{order['id']}", shop.owner).get_json()
    assert got["status"] == "expired" and got["refunded"]["amount"] == 2500


def test_a_payment_for_a_cancelled_order_is_refunded(paid_shop: Shop) -> None:
    shop = paid_shop
    order = shop.placed("summer-fest", (_event(shop)["id"], 1))
    resp = shop.api.post(f"{BASE}/orders/{order['id']}/cancel", shop.owner, json={"reason": "asked"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    shop.pay(order)
    assert _status(shop, order) == "cancelled" and len(fakepay.REFUNDS) == 1


def test_a_wrong_amount_is_refunded_not_accepted(paid_shop: Shop) -> None:
    shop = paid_shop
    order = shop.placed("summer-fest", (_event(shop)["id"], 1))
    shop.pay(order, amount=1)
    assert _status(shop, order) == "pending" and len(fakepay.REFUNDS) == 1


def test_paid_to_refunded_through_the_refund_hook(paid_shop: Shop) -> None:
    shop = paid_shop
    order = shop.placed("summer-fest", (_event(shop)["id"], 1))
    shop.pay(order)
    resp = shop.api.post(f"{BASE}/orders/{order['id']}/refund", shop.owner, json={"reason": "ill"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "refunded"
    assert fakepay.REFUNDS[0]["payment_id"] == order["payment"]["payment_id"]
    assert fakepay.REFUNDS[0]["reason"] == "ill"
    assert "ticketing.order.refunded" in _emitted(shop)
    for action in ("refund", "cancel"):
        body = assert_problem(shop.api.post(f"{BASE}/orders/{order['id']}/{action}", shop.owner, json={}),
                              409, "illegal-transition")
        assert body["current"] == "refunded"


def test_a_refund_made_at_the_provider_marks_the_order_refunded(paid_shop: Shop) -> None:
    shop = paid_shop
    order = shop.placed("summer-fest", (_event(shop)["id"], 2))
    shop.pay(order)
    payment_id = order["payment"]["payment_id"]
    shop.emit("payments.payment.refunded", fakepay.succeeded_payload(
        payment_id, refund_id="r1", amount_refunded=2500, total_refunded=2500))
    assert _status(shop, order) == "paid"  # partly refunded
    shop.emit("payments.payment.refunded", fakepay.succeeded_payload(
        payment_id, refund_id="r2", amount_refunded=2500, total_refunded=5000))
    assert _status(shop, order) == "refunded"


def test_paid_to_cancelled_then_refunded(paid_shop: Shop) -> None:
    shop = paid_shop
    order = shop.placed("summer-fest", (_event(shop)["id"], 1))
    shop.pay(order)
    assert shop.api.post(f"{BASE}/orders/{order['id']}/cancel", shop.owner, json={}).status_code == 200
    assert shop.api.post(f"{BASE}/orders/{order['id']}/refund", shop.owner, json={}).status_code == 200
    assert _status(shop, order) == "refunded"


def test_illegal_transitions_answer_409_naming_both_states(paid_shop: Shop) -> None:
    shop = paid_shop
    tt = _event(shop)
    pending = shop.placed("summer-fest", (tt["id"], 1))
    body = assert_problem(shop.api.post(f"{BASE}/orders/{pending['id']}/refund", shop.owner, json={}),
                          409, "illegal-transition")
    assert (body["current"], body["requested"]) == ("pending", "refunded")
    expired = shop.placed("summer-fest", (tt["id"], 1), email="e@example.com")
    _expire(shop, expired)
    body = assert_problem(shop.api.post(f"{BASE}/orders/{expired['id']}/cancel", shop.owner, json={}),
                          409, "illegal-transition")
    assert (body["current"], body["requested"]) == ("expired", "cancelled")
    shop.api.post(f"{BASE}/orders/{pending['id']}/cancel", shop.owner, json={})
    body = assert_problem(shop.api.post(f"{BASE}/orders/{pending['id']}/refund", shop.owner, json={}),
                          409, "illegal-transition")
    assert body["requested"] == "refunded"


def test_refund_without_payments_answers_409(paid_shop: Shop) -> None:
    shop = paid_shop
    order = shop.placed("summer-fest", (_event(shop)["id"], 1))
    shop.pay(order)
    shop.enable("fakepay", on=False)
    assert_problem(shop.api.post(f"{BASE}/orders/{order['id']}/refund", shop.owner, json={}),
                   409, "payments-not-enabled")
    assert _status(shop, order) == "paid"


def test_resolve_payable(paid_shop: Shop) -> None:
    shop = paid_shop
    order = shop.placed("summer-fest", (_event(shop)["id"], 2))

    def ask(ref: str) -> Any:
        return tenant_hook("plugboard_resolve_payable")(tenant_id=shop.tenant_id, kind="ticketing.order",
                                                        ref=ref)
    answer = shop.run(lambda: ask(order["id"]))
    assert answer.amount == 5000 and answer.currency == "EUR"  # contract 1.1's Payable
    assert answer.account == "tenant" and answer.customer_id
    assert shop.run(lambda: ask(str(uuid.uuid4()))) is None
    assert shop.run(lambda: ask("not-a-uuid")) is None
    shop.pay(order)
    from hookspecs import PayableRefusal
    refusal = shop.run(lambda: ask(order["id"]))
    assert isinstance(refusal, PayableRefusal) and refusal.reason == "paid"


def test_staff_search_cross_tenant_and_attendees(paid_shop: Shop) -> None:
    shop = paid_shop
    tt = _event(shop, amount=0)
    order = shop.placed("summer-fest", (tt["id"], 1), email="=cmd@example.com", name="=HYPERLINK()")
    listed = shop.api.get(f"{BASE}/orders", shop.owner, query_string={"status": "paid"}).get_json()
    assert [o["code"] for o in listed] == [order["code"]]
    assert shop.api.get(f"{BASE}/orders", shop.owner, query_string={"q": order["code"]}).get_json()
    assert_problem(shop.api.get(f"{BASE}/orders", shop.owner, query_string={"status": "nope"}), 422)
    event_id = shop.api.get(f"{BASE}/events", shop.owner).get_json()[0]["id"]
    rows = shop.api.get(f"{BASE}/events/{event_id}/attendees", shop.owner).get_json()
    assert rows[0]["order_code"] == order["code"] and rows[0]["checked_in_at"] is None
    csv_resp = shop.api.get(f"{BASE}/events/{event_id}/attendees", shop.owner, headers={"Accept": "text/csv"})
    assert csv_resp.mimetype == "text/csv"
    text = csv_resp.get_data(as_text=True)
    assert text.startswith("ticket_id,order_code") and "'=HYPERLINK()" in text
    stats = shop.api.get(f"{BASE}/events/{event_id}/stats", shop.owner).get_json()
    assert stats["totals"] == {"paid": 1, "pending": 0, "checked_in": 0}
    other = shop.api.register("bravo")
    shop.enable("ticketing", other)
    for path in (f"/orders/{order['id']}", f"/events/{event_id}", f"/events/{event_id}/attendees",
                 f"/events/{event_id}/ticket-types", f"/events/{event_id}/quotas",
                 f"/events/{event_id}/stats", f"/events/{event_id}/checkin-lists",
                 f"/events/{event_id}/ticket-types/{tt['id']}"):
        assert_problem(shop.api.get(BASE + path, other), 404)
    for path in (f"/orders/{order['id']}/cancel", f"/orders/{order['id']}/refund",
                 f"/events/{event_id}/publish", f"/events/{event_id}/cancel"):
        assert_problem(shop.api.post(BASE + path, other, json={}), 404)
    assert_problem(shop.api.patch(f"{BASE}/events/{event_id}", other, json={"title": "X"}), 404)
    assert_problem(shop.api.delete(f"{BASE}/events/{event_id}", other), 404)
    assert shop.api.get(f"{BASE}/orders", other).get_json() == []
    drain_jobs(shop.app)


def test_the_expiry_job_runs_every_minute_for_each_enabled_tenant(paid_shop: Shop) -> None:
    shop = paid_shop
    specs = kernel_services(shop.app).job_specs
    assert specs["ticketing.expire_orders"][1].cron == "* * * * *"
    order = shop.placed("summer-fest", (_event(shop)["id"], 1))
    _expire(shop, order, run_job=False)
    with shop.app.app_context():
        kernel_services(shop.app).jobs.submit(
            "kernel.cron", None, None, {"job": "ticketing.expire_orders"})
    drain_jobs(shop.app)
    assert _status(shop, order) == "expired"


def test_box_office_sales_are_paid_at_once_and_respect_quotas(shop: Shop) -> None:
    event = shop.event()
    tt = shop.ticket_type(event["id"], "Door", 3000, capacity=2, max_per_order=1, hidden=True)
    url = f"{BASE}/events/{event['id']}/ticket-types/{tt['id']}/orders"
    resp = shop.api.post(url, shop.owner, json={"quantity": 2, "email": "walk@in.example", "name": "Walk In"})
    assert resp.status_code == 201, resp.get_json()
    sold = resp.get_json()
    assert sold["status"] == "paid" and sold["total"] == {"amount": 6000, "currency": "EUR"}
    assert len(sold["tickets"]) == 2 and shop.read_order(sold["code"], sold["secret"])["tickets"]
    assert_problem(shop.api.post(url, shop.owner, json={"quantity": 1, "email": "late@in.example",
                                                        "name": "Late"}), 409, "sold-out")
    analyst = shop.api.add_member(shop.owner, "ana@acme.example.com", "analyst")
    one = {"quantity": 1, "email": "a@b.example", "name": "A"}
    assert_problem(shop.api.post(url, analyst, json=one), 403)
    refunded = shop.api.post(f"{BASE}/orders/{sold['id']}/refund", shop.owner, json={})
    assert refunded.get_json()["status"] == "refunded" and fakepay.REFUNDS == []  # paid in cash
    assert shop.api.post(url, shop.owner, json={"quantity": 1, "email": "x@in.example",
                                                "name": "X"}).status_code == 201  # seats came back


def test_orders_are_numbered_gaplessly_when_they_are_paid(paid_shop: Shop) -> None:
    shop = paid_shop
    tt = _event(shop, capacity=2)
    first = shop.placed("summer-fest", (tt["id"], 1))
    never_paid = shop.placed("summer-fest", (tt["id"], 1), email="slow@example.com")
    assert first["number"] is None  # pending: no number yet
    _expire(shop, never_paid)
    second = shop.placed("summer-fest", (tt["id"], 1), email="second@example.com")
    shop.pay(second)
    shop.pay(first)
    shop.pay(first)  # a redelivery takes no second number

    def number(order: dict[str, Any]) -> int | None:
        return shop.api.get(f"{BASE}/orders/{order['id']}", shop.owner).get_json()["number"]  # type: ignore[no-any-return]
    assert (number(second), number(first), number(never_paid)) == (1, 2, None)
    free = shop.ticket_type(shop.event(slug="free-fest")["id"], "Guest", 0)
    assert shop.placed("free-fest", (free["id"], 1), email="guest@example.com")["number"] == 3
