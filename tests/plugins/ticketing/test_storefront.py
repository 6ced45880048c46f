"""The storefront: published events with availability, placing orders, the buyer's order,
tickets with QR codes and PDFs; drafts never shown; bad input refused."""

from __future__ import annotations

from tests.helpers import assert_problem, row_counts
from tests.plugins.ticketing.conftest import BASE, Shop, soon


def test_drafts_never_reach_the_storefront(shop: Shop) -> None:
    draft = shop.event("secret-gig", publish=False)
    free = shop.ticket_type(draft["id"], "Free", 0)
    assert shop.public("/events").get_json() == []
    assert_problem(shop.public("/events/secret-gig"), 404)
    assert_problem(shop.public(f"/events/{draft['id']}"), 404)
    before = row_counts(shop.app)
    assert_problem(shop.order("secret-gig", (free["id"], 1)), 404)
    assert_problem(shop.order(draft["id"], (free["id"], 1)), 404)
    assert row_counts(shop.app) == before


def test_published_events_with_availability_and_cache_invalidation(shop: Shop) -> None:
    event = shop.event()
    a = shop.ticket_type(event["id"], "A", 1000)
    b = shop.ticket_type(event["id"], "B", 0, capacity=3)
    shop.ticket_type(event["id"], "Hidden", 0, hidden=True)
    shop.quota(event["id"], 10, a["id"], b["id"])
    listed = shop.public("/events")
    assert listed.status_code == 200 and listed.headers["ETag"]
    body = listed.get_json()
    assert [e["slug"] for e in body] == ["summer-fest"]
    types = {t["name"]: t for t in body[0]["ticket_types"]}
    assert set(types) == {"A", "B"}  # hidden types are not shown
    assert types["A"]["available"] == 10 and types["B"]["available"] == 3
    again = shop.public("/events", headers={"If-None-Match": listed.headers["ETag"]})
    assert again.status_code == 304
    shop.api.patch(f"{BASE}/events/{event['id']}", shop.owner, json={"title": "Renamed"})
    assert shop.public("/events/summer-fest").get_json()["title"] == "Renamed"  # dropped on change
    shop.api.post(f"{BASE}/events/{event['id']}/cancel", shop.owner)
    assert shop.public("/events").get_json() == []
    cancelled = shop.public("/events/summer-fest").get_json()
    assert cancelled["status"] == "cancelled" and cancelled["ticket_types"] == []


def test_a_free_order_is_paid_at_once_with_tickets_qr_and_pdf(shop: Shop) -> None:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    placed = shop.placed("summer-fest", (free["id"], 2), email="Bea@Example.com")
    assert placed["status"] == "paid" and placed["total"] == {"amount": 0, "currency": "EUR"}
    assert placed["payment"] is None and len(placed["secret"]) >= 32 and len(placed["code"]) == 10
    order = shop.read_order(placed["code"], placed["secret"])
    assert order["email"] == "bea@example.com" and len(order["tickets"]) == 2
    ticket = order["tickets"][0]
    assert ticket["ticket_type"] == free["id"] and len(ticket["secret"]) >= 32
    path = ticket["qr_url"].split("localhost", 1)[1]
    svg = shop.api.get(path, headers={"X-Tenant": "acme"})
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    png = shop.api.get(path + "&format=png", headers={"X-Tenant": "acme"})
    assert png.data.startswith(b"\x89PNG")
    pdf = shop.api.get(ticket["pdf_url"].split("localhost", 1)[1], headers={"X-Tenant": "acme"})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert_problem(shop.public(f"/orders/{placed['code']}", query_string={"secret": "wrong"}), 404)
    assert_problem(shop.public(f"/orders/{placed['code']}"), 422)
    wrong = path.replace(placed["secret"], "x" * 32)
    assert_problem(shop.api.get(wrong, headers={"X-Tenant": "acme"}), 404)


def test_paid_tickets_without_payments_answer_409_and_store_nothing(shop: Shop) -> None:
    event = shop.event()
    paid = shop.ticket_type(event["id"], "Paid", 2500)
    before = row_counts(shop.app)
    body = assert_problem(shop.order("summer-fest", (paid["id"], 1)), 409, "payments-not-enabled")
    assert body["plugin"] == "payments"
    assert row_counts(shop.app) == before


def test_a_paid_order_starts_a_payment_with_the_amount_from_the_server(paid_shop: Shop) -> None:
    shop = paid_shop
    event = shop.event()
    paid = shop.ticket_type(event["id"], "Paid", 2500)
    placed = shop.placed("summer-fest", (paid["id"], 3))
    assert placed["status"] == "pending" and placed["total"] == {"amount": 7500, "currency": "EUR"}
    payment = placed["payment"]
    assert payment["amount"] == 7500 and payment["client_secret"].startswith("cs_fp-")
    assert "tickets" not in shop.read_order(placed["code"], placed["secret"])  # not before paid


def test_a_refused_payment_start_releases_the_seats(paid_shop: Shop) -> None:
    shop = paid_shop
    event = shop.event()
    paid = shop.ticket_type(event["id"], "Paid", 2500, capacity=1)
    refused = shop.order("summer-fest", (paid["id"], 1), provider="broken")
    body = assert_problem(refused, 409, "payment-refused")
    assert "not configured" in body["detail"]
    assert shop.placed("summer-fest", (paid["id"], 1))["status"] == "pending"  # the seat is free


def test_sold_out_and_sales_rules(shop: Shop) -> None:
    event = shop.event()
    small = shop.ticket_type(event["id"], "Small", 0, capacity=2, max_per_order=5)
    later = shop.ticket_type(event["id"], "Later", 0, sales_start=soon(3))
    shop.placed("summer-fest", (small["id"], 2))
    before = row_counts(shop.app)
    body = assert_problem(shop.order("summer-fest", (small["id"], 1)), 409, "sold-out")
    assert body["available"] == 0 and body["ticket_types"] == ["Small"]
    assert_problem(shop.order("summer-fest", (later["id"], 1)), 409, "sales-closed")
    assert row_counts(shop.app) == before
    assert shop.public("/events/summer-fest").get_json()["ticket_types"][0]["sold_out"] is True


def test_bad_order_input_is_refused_and_nothing_is_stored(shop: Shop) -> None:
    event = shop.event()
    other = shop.event("other")
    free = shop.ticket_type(event["id"], "Free", 0, max_per_order=2)
    foreign = shop.ticket_type(other["id"], "Foreign", 0)
    before = row_counts(shop.app)
    good = {"event": "summer-fest", "items": [{"ticket_type": free["id"], "quantity": 1}],
            "email": "b@example.com", "name": "B"}
    bad = [{**good, "items": []},
           {**good, "items": [{"ticket_type": free["id"], "quantity": 0}]},
           {**good, "items": [{"ticket_type": free["id"], "quantity": 3}]},
           {**good, "items": [{"ticket_type": free["id"], "quantity": 2}, {"ticket_type": free["id"],
                                                                         "quantity": 1}]},
           {**good, "items": [{"ticket_type": foreign["id"], "quantity": 1}]},
           {**good, "items": [{"ticket_type": "nope", "quantity": 1}]},
           {**good, "email": "not-an-email"},
           {**good, "total": 0},
           {k: v for k, v in good.items() if k != "name"}]
    for body in bad:
        resp = shop.api.post("/api/v1/public/ticketing/orders", json=body, headers={"X-Tenant": "acme"})
        assert_problem(resp, 422)
    assert_problem(shop.api.post("/api/v1/public/ticketing/orders", data="{", content_type="application/json",
                                 headers={"X-Tenant": "acme"}), 400)
    assert row_counts(shop.app) == before


def test_cross_tenant_storefront(shop: Shop) -> None:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    placed = shop.placed("summer-fest", (free["id"], 1))
    other = shop.api.register("bravo")
    shop.enable("ticketing", other)
    assert shop.public("/events", tenant="bravo").get_json() == []
    assert_problem(shop.public("/events/summer-fest", tenant="bravo"), 404)
    assert_problem(shop.order("summer-fest", (free["id"], 1), tenant="bravo"), 404)
    assert_problem(shop.public(f"/orders/{placed['code']}", tenant="bravo",
                               query_string={"secret": placed["secret"]}), 404)


def test_a_logged_in_customer_orders_and_lists_their_orders(shop: Shop) -> None:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    resp = shop.api.post("/api/v1/public/account/register", headers={"X-Tenant": "acme"},
                         json={"email": "cora@example.com", "password": "correct horse battery",
                               "name": "Cora"})
    assert resp.status_code == 201, resp.get_json()
    token = resp.get_json()["access_token"]
    auth = {"X-Tenant": "acme", "Authorization": f"Bearer {token}"}
    resp = shop.api.post("/api/v1/public/ticketing/orders", headers=auth, json={
        "event": "summer-fest", "items": [{"ticket_type": free["id"], "quantity": 1}],
        "email": "cora@example.com", "name": "Cora"})
    assert resp.status_code == 201
    mine = shop.api.get("/api/v1/public/ticketing/orders", headers=auth).get_json()
    assert [o["code"] for o in mine] == [resp.get_json()["code"]]
    assert_problem(shop.api.get("/api/v1/public/ticketing/orders", headers={"X-Tenant": "acme"}), 401)
    bad = {"X-Tenant": "acme", "Authorization": "Bearer nonsense"}
    assert_problem(shop.api.post("/api/v1/public/ticketing/orders", headers=bad, json={
        "event": "summer-fest", "items": [{"ticket_type": free["id"], "quantity": 1}],
        "email": "x@example.com", "name": "X"}), 401)
