"""Check-in answers, nonce retries, lists by ticket type, offline uploads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.helpers import assert_problem
from tests.plugins.ticketing.conftest import BASE, Shop


def _scan(shop: Shop, secret: str, nonce: str, **extra: Any) -> dict[str, Any]:
    resp = shop.api.post(f"{BASE}/checkins", shop.owner, json={"secret": secret, "nonce": nonce, **extra})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def _ticket(shop: Shop, type_id: str, email: str = "a@example.com") -> tuple[dict[str, Any], str]:
    order = shop.placed("summer-fest", (type_id, 1), email=email)
    return order, shop.read_order(order["code"], order["secret"])["tickets"][0]["secret"]


def test_every_answer(paid_shop: Shop) -> None:
    shop = paid_shop
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    paid = shop.ticket_type(event["id"], "Paid", 1000)
    order, secret = _ticket(shop, free["id"])
    first = _scan(shop, secret, "scan-0001")
    assert first["result"] == "ok" and first["ticket"]["order_code"] == order["code"]
    assert _scan(shop, secret, "scan-0002")["result"] == "already_redeemed"
    assert _scan(shop, "no-such-secret", "scan-0003")["result"] == "unknown"
    unpaid = shop.placed("summer-fest", (paid["id"], 1), email="u@example.com")

    def unpaid_secret() -> str:
        import uuid

        from plugins.ticketing import orders
        return orders.tickets_of(uuid.UUID(unpaid["id"]))[0].secret
    assert _scan(shop, shop.run(unpaid_secret), "scan-0004")["result"] == "unpaid"
    _other, cancelled_secret = _ticket(shop, free["id"], "c@example.com")
    shop.api.post(f"{BASE}/orders/{_other['id']}/cancel", shop.owner, json={})
    assert _scan(shop, cancelled_secret, "scan-0005")["result"] == "cancelled"
    stats = shop.api.get(f"{BASE}/events/{event['id']}/stats", shop.owner).get_json()
    assert stats["totals"]["checked_in"] == 1


def test_a_repeated_nonce_gives_the_first_answer(shop: Shop) -> None:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    _order, secret = _ticket(shop, free["id"])
    first = _scan(shop, secret, "retry-0001")
    again = _scan(shop, secret, "retry-0001")
    assert first["result"] == again["result"] == "ok" and first["id"] == again["id"]
    assert _scan(shop, secret, "retry-0002")["result"] == "already_redeemed"


def test_lists_admit_some_ticket_types_only(shop: Shop) -> None:
    event = shop.event()
    vip = shop.ticket_type(event["id"], "VIP", 0)
    basic = shop.ticket_type(event["id"], "Basic", 0)
    resp = shop.api.post(f"{BASE}/events/{event['id']}/checkin-lists", shop.owner,
                         json={"name": "VIP lounge", "ticket_types": [vip["id"]]})
    lounge = resp.get_json()
    assert resp.status_code == 201 and lounge["all_types"] is False
    _o1, vip_secret = _ticket(shop, vip["id"], "v@example.com")
    _o2, basic_secret = _ticket(shop, basic["id"], "b@example.com")
    assert _scan(shop, basic_secret, "lounge-001", list=lounge["id"])["result"] == "unknown"
    assert _scan(shop, vip_secret, "lounge-002", list=lounge["id"])["result"] == "ok"
    assert _scan(shop, vip_secret, "door-00001")["result"] == "ok"  # another list (the door)
    assert_problem(shop.api.post(f"{BASE}/checkins", shop.owner, json={
        "secret": vip_secret, "nonce": "lounge-003", "list": "00000000-0000-0000-0000-000000000000"}), 404)


def test_offline_scans_uploaded_later_keep_their_scan_time(shop: Shop) -> None:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    _o, secret = _ticket(shop, free["id"])
    early = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    later = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).isoformat()
    resp = shop.api.post(f"{BASE}/checkins/batch", shop.owner, json={"scans": [
        {"secret": secret, "nonce": "offline-02", "scanned_at": later},
        {"secret": secret, "nonce": "offline-01", "scanned_at": early},
    ]})
    results = resp.get_json()["results"]
    assert [r["result"] for r in results] == ["already_redeemed", "ok"]  # judged by scan time
    assert results[1]["scanned_at"].startswith(early[:16])
    rows = shop.api.get(f"{BASE}/events/{event['id']}/attendees", shop.owner).get_json()
    assert rows[0]["checked_in_at"].startswith(early[:16])
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert_problem(shop.api.post(f"{BASE}/checkins", shop.owner, json={
        "secret": secret, "nonce": "future-001", "scanned_at": future}), 422)


def test_bad_scans_and_other_tenants_tickets(shop: Shop) -> None:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    _o, secret = _ticket(shop, free["id"])
    for body in ({"secret": secret}, {"secret": secret, "nonce": "short"}, {"nonce": "nonce-0001"},
                 {"secret": secret, "nonce": "nonce-0001", "extra": 1}):
        assert_problem(shop.api.post(f"{BASE}/checkins", shop.owner, json=body), 422)
    other = shop.api.register("bravo")
    shop.enable("ticketing", other)
    resp = shop.api.post(f"{BASE}/checkins", other, json={"secret": secret, "nonce": "bravo-0001"})
    assert resp.get_json()["result"] == "unknown"
    assert _scan(shop, secret, "nonce-0001")["result"] == "ok"  # untouched by bravo's scan
