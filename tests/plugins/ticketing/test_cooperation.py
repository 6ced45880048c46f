"""Customers' timeline, export and erase; page components; the demo seeder."""

from __future__ import annotations

import json
from typing import Any

from kernel.api import tenant_hook
from plugins.ticketing import demo
from tests.plugins.ticketing.conftest import BASE, Shop


def test_customer_timeline_export_and_erase(shop: Shop) -> None:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    order = shop.placed("summer-fest", (free["id"], 1), email="dora@example.com", name="Dora")
    customers = shop.api.get("/api/v1/customers", shop.owner, query_string={"email": "dora@example.com"})
    customer_id = customers.get_json()[0]["id"]
    timeline = shop.api.get(f"/api/v1/customers/{customer_id}/timeline", shop.owner).get_json()
    types = {e["type"] for e in (timeline["entries"] if isinstance(timeline, dict) else timeline)}
    assert {"ticketing.order.placed", "ticketing.order.paid"} <= types
    export = shop.api.get(f"/api/v1/customers/{customer_id}/export", shop.owner).get_json()
    mine = export["plugins"]["ticketing"]["orders"]
    assert mine[0]["code"] == order["code"] and mine[0]["email"] == "dora@example.com"
    assert "secret" not in json.dumps(mine)
    assert shop.api.delete(f"/api/v1/customers/{customer_id}", shop.owner).status_code in (200, 204)
    kept = shop.api.get(f"{BASE}/orders/{order['id']}", shop.owner).get_json()
    assert kept["total"] == {"amount": 0, "currency": "EUR"} and kept["code"] == order["code"]
    assert "dora" not in json.dumps(kept).lower()


def test_page_components(shop: Shop) -> None:
    event = shop.event()
    shop.ticket_type(event["id"], "Free", 0, capacity=5)
    shop.event("a-draft", publish=False)

    def data(kind: str, props: dict[str, Any]) -> Any:
        return tenant_hook("plugboard_component_data")(tenant_id=shop.tenant_id, component_type=kind,
                                                       props=props)
    listed = shop.run(lambda: data("EventList", {"limit": 10}))
    assert [e["slug"] for e in listed["events"]] == ["summer-fest"]
    assert listed["events"][0]["ticket_types"][0]["available"] == 5
    card = shop.run(lambda: data("EventCard", {"slug": "summer-fest"}))
    assert card["event"]["title"] == "Summer Fest"
    assert shop.run(lambda: data("EventCard", {"slug": "a-draft"})) == {"event": None}
    assert shop.run(lambda: data("Hero", {})) is None
    from kernel.api import page_components
    with shop.app.app_context():
        declared = {c["type"]: c["plugin"] for c in page_components(shop.app)}
    assert declared["EventList"] == declared["EventCard"] == "ticketing"


def test_demo_seeder_is_idempotent(shop: Shop) -> None:
    shop.run(lambda: demo.seed(shop.tenant_id))
    shop.run(lambda: demo.seed(shop.tenant_id))
    events = shop.api.get(f"{BASE}/events", shop.owner).get_json()
    assert [e["slug"] for e in events] == [demo.SLUG] and events[0]["status"] == "published"
    shown = shop.public(f"/events/{demo.SLUG}").get_json()
    assert {t["name"] for t in shown["ticket_types"]} == {"Standard", "Reduced", "Guest list"}


def test_a_published_page_shows_the_event_list(shop: Shop) -> None:
    shop.ticket_type(shop.event()["id"], "Free", 0)
    document = {"root": {"props": {}}, "content": [
        {"type": "EventList", "props": {"id": "EventList-1", "limit": 3}}]}
    resp = shop.api.post("/api/v1/pages", shop.owner, json={"path": "/", "title": "Home", "data": document})
    assert resp.status_code == 201, resp.get_json()
    assert shop.api.post(f"/api/v1/pages/{resp.get_json()['id']}/publish", shop.owner,
                         json={}).status_code == 200
    page = shop.api.get("/api/v1/public/pages/", headers={"X-Tenant": "acme"}).get_json()
    block = page["content"][0]["props"]
    assert block["id"] == "EventList-1" and [e["slug"] for e in block["events"]] == ["summer-fest"]


def test_tenants_may_override_the_confirmation_mail(shop: Shop) -> None:
    name = "ticketing_order_confirmation"
    resp = shop.api.get(f"/api/v1/tenant/mail-templates/{name}", shop.owner)
    assert resp.status_code == 200, resp.get_json()
