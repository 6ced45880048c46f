"""Staff API of the catalogue: events, ticket types, quotas; transitions, validation,
permissions."""

from __future__ import annotations

from tests.helpers import assert_problem, row_counts
from tests.plugins.ticketing.conftest import BASE, Shop, soon


def test_event_lifecycle_and_transitions(shop: Shop) -> None:
    event = shop.event(publish=False)
    assert event["status"] == "draft" and event["cover_url"] is None
    api, owner, url = shop.api, shop.owner, f"{BASE}/events/{event['id']}"
    assert api.get(url, owner).get_json()["slug"] == "summer-fest"
    assert api.post(f"{url}/publish", owner).get_json()["status"] == "published"
    body = assert_problem(api.post(f"{url}/publish", owner), 409, "illegal-transition")
    assert body["current"] == "published" and body["requested"] == "published"
    assert api.post(f"{url}/cancel", owner).get_json()["status"] == "cancelled"
    body = assert_problem(api.post(f"{url}/publish", owner), 409, "illegal-transition")
    assert (body["current"], body["requested"]) == ("cancelled", "published")
    assert_problem(api.post(f"{url}/cancel", owner), 409, "illegal-transition")
    draft = shop.event("other", publish=False)
    assert api.post(f"{BASE}/events/{draft['id']}/cancel", owner).get_json()["status"] == "cancelled"


def test_edit_list_and_delete(shop: Shop) -> None:
    event = shop.event(publish=False)
    url = f"{BASE}/events/{event['id']}"
    resp = shop.api.patch(url, shop.owner, json={"title": "Winter Fest", "slug": "winter-fest"})
    assert resp.status_code == 200 and resp.get_json()["slug"] == "winter-fest"
    listed = shop.api.get(f"{BASE}/events", shop.owner, query_string={"q": "winter"}).get_json()
    assert [e["id"] for e in listed] == [event["id"]]
    assert shop.api.get(f"{BASE}/events", shop.owner, query_string={"status": "published"}).get_json() == []
    assert shop.api.delete(url, shop.owner).status_code == 204
    assert_problem(shop.api.get(url, shop.owner), 404, "not-found")


def test_an_event_with_orders_cannot_be_deleted(shop: Shop) -> None:
    event = shop.event()
    free = shop.ticket_type(event["id"], "Free", 0)
    shop.placed("summer-fest", (free["id"], 1))
    assert_problem(shop.api.delete(f"{BASE}/events/{event['id']}", shop.owner), 409, "in-use")
    assert_problem(shop.api.delete(f"{BASE}/events/{event['id']}/ticket-types/{free['id']}", shop.owner),
                   409, "in-use")


def test_bad_event_input_is_refused_and_nothing_is_stored(shop: Shop) -> None:
    shop.event("taken", publish=False)
    before = row_counts(shop.app)
    good = {"title": "T", "slug": "ok-slug", "starts_at": soon(), "ends_at": soon(10, 2)}
    bad = [
        {**good, "slug": "Not A Slug"},
        {**good, "slug": "taken"},
        {**good, "ends_at": soon(9)},
        {**good, "timezone": "Mars/Olympus"},
        {**good, "starts_at": "2026-07-01T19:00:00"},  # no UTC offset
        {**good, "unknown": 1},
        {k: v for k, v in good.items() if k != "title"},
        {**good, "title": "x" * 201},
    ]
    statuses = [shop.api.post(f"{BASE}/events", shop.owner, json=b) for b in bad]
    for resp in statuses:
        assert resp.status_code in (409, 422), resp.get_json()
        assert_problem(resp, resp.status_code)
    assert_problem(statuses[1], 409, "event-slug-taken")
    assert row_counts(shop.app) == before


def test_ticket_types_and_quotas(shop: Shop) -> None:
    event = shop.event(publish=False)
    eid = event["id"]
    a = shop.ticket_type(eid, "A", 1000, capacity=5, max_per_order=4)
    b = shop.ticket_type(eid, "B", 500)
    assert a["price"] == {"amount": 1000, "currency": "EUR"} and a["capacity"] == 5
    quota = shop.quota(eid, 8, a["id"], b["id"])
    assert quota["used"] == 0 and quota["available"] == 8 and set(quota["ticket_types"]) == {a["id"], b["id"]}
    listed = shop.api.get(f"{BASE}/events/{eid}/quotas", shop.owner).get_json()
    assert [q["id"] for q in listed] == [quota["id"]]  # a type's own capacity is not listed
    resp = shop.api.patch(f"{BASE}/events/{eid}/quotas/{quota['id']}", shop.owner,
                          json={"size": 3, "ticket_types": [b["id"]]})
    assert resp.get_json()["size"] == 3 and resp.get_json()["ticket_types"] == [b["id"]]
    resp = shop.api.patch(f"{BASE}/events/{eid}/ticket-types/{a['id']}", shop.owner,
                          json={"capacity": None, "price": {"amount": 1200, "currency": "EUR"}})
    assert resp.get_json()["capacity"] is None and resp.get_json()["price"]["amount"] == 1200
    assert shop.api.delete(f"{BASE}/events/{eid}/quotas/{quota['id']}", shop.owner).status_code == 204
    assert len(shop.api.get(f"{BASE}/events/{eid}/ticket-types", shop.owner).get_json()) == 2


def test_bad_ticket_type_and_quota_input(shop: Shop) -> None:
    eid = shop.event(publish=False)["id"]
    other = shop.event("other", publish=False)["id"]
    foreign = shop.ticket_type(other, "Elsewhere")
    shop.ticket_type(eid, "Euro")
    before = row_counts(shop.app)
    url = f"{BASE}/events/{eid}"
    for body in [{"name": "X", "price": {"amount": -1, "currency": "EUR"}},
                 {"name": "X", "price": {"amount": 100, "currency": "XYZ"}},
                 {"name": "X", "price": {"amount": 100, "currency": "USD"}},  # not the event's currency
                 {"name": "X", "price": {"amount": 1.5, "currency": "EUR"}},
                 {"name": "X", "price": {"amount": 100, "currency": "EUR"}, "min_per_order": 5,
                  "max_per_order": 2},
                 {"name": "X", "price": {"amount": 100, "currency": "EUR"}, "sales_start": soon(3),
                  "sales_end": soon(2)},
                 {"name": "X"}]:
        assert_problem(shop.api.post(f"{url}/ticket-types", shop.owner, json=body), 422)
    for body in [{"name": "Q", "size": -1, "ticket_types": [foreign["id"]]},
                 {"name": "Q", "size": 5, "ticket_types": [foreign["id"]]},
                 {"name": "Q", "size": 5, "ticket_types": ["not-a-uuid"]}]:
        assert_problem(shop.api.post(f"{url}/quotas", shop.owner, json=body), 422)
    assert row_counts(shop.app) == before


def test_permissions(shop: Shop) -> None:
    event = shop.event(publish=False)
    analyst = shop.api.add_member(shop.owner, "ana@acme.example.com", "analyst")
    support = shop.api.add_member(shop.owner, "sup@acme.example.com", "support")
    manager = shop.api.add_member(shop.owner, "man@acme.example.com", "manager")
    assert shop.api.get(f"{BASE}/events", analyst).status_code == 200
    assert_problem(shop.api.post(f"{BASE}/events/{event['id']}/publish", analyst), 403)
    assert_problem(shop.api.post(f"{BASE}/events/{event['id']}/publish", support), 403)
    assert shop.api.post(f"{BASE}/events/{event['id']}/publish", manager).status_code == 200
    scan = {"secret": "x", "nonce": "n" * 10}
    assert_problem(shop.api.post(f"{BASE}/checkins", analyst, json=scan), 403)
    assert shop.api.post(f"{BASE}/checkins", support, json=scan).get_json()["result"] == "unknown"


def test_cover_image(shop: Shop) -> None:
    import io

    eid = shop.event()["id"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    resp = shop.api.post(f"{BASE}/events/{eid}/cover", shop.owner,
                         data={"file": (io.BytesIO(png), "cover.png")}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    url = resp.get_json()["cover_url"]
    assert url and f"/api/v1/public/assets/{shop.owner.tenant_id}/ticketing/" in url
    assert shop.api.get(url.split("localhost", 1)[-1]).data == png
    svg = b"<svg onload='alert(1)'></svg>"
    assert_problem(shop.api.post(f"{BASE}/events/{eid}/cover", shop.owner,
                                 data={"file": (io.BytesIO(svg), "x.svg")},
                                 content_type="multipart/form-data"), 415)


def test_the_plugin_must_be_enabled(shop: Shop) -> None:
    other = shop.api.register("bravo")
    assert_problem(shop.api.get(f"{BASE}/events", other), 404, "plugin-not-enabled")
    assert_problem(shop.public("/events", tenant="bravo"), 404, "plugin-not-enabled")
