"""Another tenant reaches none of acme's ticketing rows, on any route; bad edits store nothing."""

from __future__ import annotations

import io

from tests.helpers import assert_problem, row_counts
from tests.plugins.ticketing.conftest import BASE, Shop


def test_every_route_refuses_another_tenants_ids(shop: Shop) -> None:
    event = shop.event()
    eid = event["id"]
    tt = shop.ticket_type(eid, "Free", 0)
    quota = shop.quota(eid, 10, tt["id"])
    placed = shop.placed("summer-fest", (tt["id"], 1))
    ticket = shop.read_order(placed["code"], placed["secret"])["tickets"][0]
    other = shop.api.register("bravo")
    shop.enable("ticketing", other)
    before = row_counts(shop.app)
    api = shop.api
    assert_problem(api.patch(f"{BASE}/events/{eid}/ticket-types/{tt['id']}", other, json={"name": "X"}), 404)
    assert_problem(api.delete(f"{BASE}/events/{eid}/ticket-types/{tt['id']}", other), 404)
    assert_problem(api.patch(f"{BASE}/events/{eid}/quotas/{quota['id']}", other, json={"size": 1}), 404)
    assert_problem(api.delete(f"{BASE}/events/{eid}/quotas/{quota['id']}", other), 404)
    assert_problem(api.post(f"{BASE}/events/{eid}/ticket-types", other,
                            json={"name": "X", "price": {"amount": 0, "currency": "EUR"}}), 404)
    assert_problem(api.post(f"{BASE}/events/{eid}/quotas", other,
                            json={"name": "Q", "size": 1, "ticket_types": [tt["id"]]}), 404)
    assert_problem(api.post(f"{BASE}/events/{eid}/checkin-lists", other, json={"name": "L"}), 404)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    assert_problem(api.post(f"{BASE}/events/{eid}/cover", other, content_type="multipart/form-data",
                            data={"file": (io.BytesIO(png), "c.png")}), 404)
    for url in (ticket["qr_url"], ticket["pdf_url"]):
        assert_problem(api.get(url.split("localhost", 1)[1], headers={"X-Tenant": "bravo"}), 404)
    assert row_counts(shop.app) == before


def test_bad_edits_store_nothing(shop: Shop) -> None:
    event = shop.event(publish=False)
    eid = event["id"]
    tt = shop.ticket_type(eid, "Free", 0)
    shop.ticket_type(eid, "Other", 500)  # in EUR too: a type cannot switch to USD alone
    quota = shop.quota(eid, 10, tt["id"])
    before = row_counts(shop.app)
    api, owner = shop.api, shop.owner
    reads = (f"{BASE}/events/{eid}", f"{BASE}/events/{eid}/ticket-types", f"{BASE}/events/{eid}/quotas")
    seen = [api.get(url, owner).get_json() for url in reads]
    for body in ({"ends_at": "2020-01-01T00:00:00+00:00"}, {"slug": "Bad Slug"}, {"title": ""},
                 {"timezone": "Nowhere/Land"}, {"status": "published"}):
        assert_problem(api.patch(f"{BASE}/events/{eid}", owner, json=body), 422)
    for body in ({"max_per_order": 0}, {"price": {"amount": 1, "currency": "usd"}},
                 {"price": {"amount": 100, "currency": "USD"}}, {"capacity": -1}):
        assert_problem(api.patch(f"{BASE}/events/{eid}/ticket-types/{tt['id']}", owner, json=body), 422)
    nobody = "00000000-0000-0000-0000-000000000000"
    for body in ({"size": -5}, {"ticket_types": []}, {"ticket_types": [nobody]}):
        assert_problem(api.patch(f"{BASE}/events/{eid}/quotas/{quota['id']}", owner, json=body), 422)
    assert_problem(api.post(f"{BASE}/events/{eid}/checkin-lists", owner,
                            json={"name": "L", "ticket_types": [nobody]}), 422)
    assert_problem(api.post(f"{BASE}/events/{eid}/cover", owner, data={},
                            content_type="multipart/form-data"), 422)
    assert row_counts(shop.app) == before
    assert [api.get(url, owner).get_json() for url in reads] == seen
