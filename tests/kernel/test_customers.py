"""Customers for staff: CRUD, search, permissions, isolation, and the data-subject hooks
(timeline, export, erase) gathered from every enabled plugin."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.session import db
from kernel.identity.customers import Customer
from kernel.runtime.events import OutboxEvent
from kernel.tenancy.scope import tenant_scope
from tests.helpers import Account, Api, assert_problem, row_counts
from tests.testplugins.purchases import plugin as purchases

BASE = "/api/v1/customers"


def create(api: Api, acct: Account, **body: Any) -> dict[str, Any]:
    resp = api.post(BASE, acct, json={"email": "ann@example.com", "name": "Ann", **body})
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def test_create_read_update_and_search(api: Api) -> None:
    owner = api.register()
    ann = create(api, owner, phone="+44 20 7946 0958", marketing_consent=True)
    assert ann["phone"] == "+442079460958" and ann["has_account"] is False
    create(api, owner, email="bob@example.com", name="Bob Stone")
    assert api.get(f"{BASE}/{ann['id']}", owner).get_json()["email"] == "ann@example.com"
    resp = api.patch(f"{BASE}/{ann['id']}", owner, json={"name": "Ann Lee", "phone": None})
    assert resp.status_code == 200 and resp.get_json()["phone"] is None
    found = api.get(f"{BASE}?q=stone", owner)
    assert [c["email"] for c in found.get_json()] == ["bob@example.com"]
    assert "X-Pagination" in found.headers
    assert len(api.get(BASE, owner).get_json()) == 2


def test_email_is_unique_per_tenant_not_per_platform(api: Api) -> None:
    a, b = api.register(), api.register()
    create(api, a)
    assert_problem(api.post(BASE, a, json={"email": "ANN@example.com"}), 409, "customer-exists")
    create(api, b)  # another tenant's customer with the same e-mail is another person


def test_bad_input_is_4xx_and_changes_nothing(api: Api, app: Flask) -> None:
    owner = api.register()
    ann = create(api, owner)
    before = row_counts(app)
    for body in ({"email": "nope"}, {"email": "x@example.com", "phone": "+1 555"},
                 {"email": "x@example.com", "is_admin": True}, {"name": "no email"}):
        assert_problem(api.post(BASE, owner, json=body), 422)
    assert_problem(api.patch(f"{BASE}/{ann['id']}", owner, json={}), 422)
    assert_problem(api.get(f"{BASE}?q=", owner), 422)
    assert row_counts(app) == before


def test_permissions_follow_roles(api: Api) -> None:
    owner = api.register()
    analyst = api.add_member(owner, "ana@example.com", "analyst")
    support = api.add_member(owner, "sue@example.com", "support")
    ann = create(api, owner)
    assert_problem(api.get(BASE, analyst), 403, "forbidden")
    assert api.get(BASE, support).status_code == 200
    assert_problem(api.post(BASE, support, json={"email": "x@example.com"}), 403)
    assert_problem(api.get(f"{BASE}/{ann['id']}/export", support), 403)
    assert_problem(api.delete(f"{BASE}/{ann['id']}", support), 403)


def test_other_tenants_customers_are_invisible(api: Api) -> None:
    a, b = api.register(), api.register()
    ann = create(api, a)
    for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/timeline"),
                           ("GET", "/export")):
        resp = api.call(method, f"{BASE}/{ann['id']}{suffix}", b, json={"name": "x"})
        assert_problem(resp, 404)
    assert api.get(BASE, b).get_json() == []
    assert api.get(f"{BASE}/{ann['id']}", a).get_json()["name"] == "Ann"


def test_creating_a_customer_emits_customer_created(api: Api, app: Flask) -> None:
    owner = api.register()
    ann = create(api, owner)
    with app.app_context(), tenant_scope(uuid.UUID(owner.tenant_id)):
        events = db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.name == "customer.created"))
        assert [e.payload for e in events] == [{"customer_id": ann["id"]}]


# -- the data-subject hooks, through the ``purchases`` test plugin ---------------------------


@pytest.fixture
def shop(plugin_app: Callable[..., Flask]) -> Iterator[dict[str, Any]]:
    app = plugin_app(purchases)
    api = Api(app.test_client(), app)
    a, b = api.register("alpha"), api.register("bravo")
    for acct in (a, b):
        assert api.put("/api/v1/plugins/purchases/activation", acct,
                       json={"enabled": True}).status_code == 200
    purchases.FAIL.clear()
    yield {"app": app, "api": api, "a": a, "b": b}
    purchases.FAIL.clear()


def buy(app: Flask, acct: Account, email: str, amount: int) -> str:
    with app.app_context(), tenant_scope(uuid.UUID(acct.tenant_id)):
        row = purchases.buy(email, "Ann", amount)
        db.session.commit()
        return str(row.customer_id)


def test_find_or_create_customer_makes_one_person_per_email(shop: dict[str, Any]) -> None:
    app, a, b = shop["app"], shop["a"], shop["b"]
    first = buy(app, a, "Ann@Example.com", 100)
    assert buy(app, a, "ann@example.com", 250) == first
    assert buy(app, b, "ann@example.com", 300) != first
    listed = shop["api"].get(BASE, a).get_json()
    assert [(c["id"], c["name"]) for c in listed] == [(first, "Ann")]


def test_hook_plugboard_customer_timeline(shop: dict[str, Any]) -> None:
    app, api, a = shop["app"], shop["api"], shop["a"]
    cid = buy(app, a, "ann@example.com", 100)
    buy(app, a, "ann@example.com", 250)
    entries = api.get(f"{BASE}/{cid}/timeline", a).get_json()
    assert [e["plugin"] for e in entries].count("purchases") == 2
    assert {e["data"].get("amount") for e in entries if e["plugin"] == "purchases"} == {100, 250}
    assert entries[-1]["type"] == "customer.created"
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    # a broken plugin is left out, the rest still shows
    purchases.FAIL.add("timeline")
    entries = api.get(f"{BASE}/{cid}/timeline", a).get_json()
    assert [e["plugin"] for e in entries] == ["kernel"]


def test_timeline_asks_only_plugins_the_tenant_enabled(shop: dict[str, Any]) -> None:
    app, api, a = shop["app"], shop["api"], shop["a"]
    cid = buy(app, a, "ann@example.com", 100)
    assert api.put("/api/v1/plugins/purchases/activation", a, json={"enabled": False}).status_code == 200
    entries = api.get(f"{BASE}/{cid}/timeline", a).get_json()
    assert [e["plugin"] for e in entries] == ["kernel"]


def test_hook_plugboard_customer_export(shop: dict[str, Any]) -> None:
    app, api, a = shop["app"], shop["api"], shop["a"]
    cid = buy(app, a, "ann@example.com", 100)
    data = api.get(f"{BASE}/{cid}/export", a).get_json()
    assert data["customer"]["email"] == "ann@example.com"
    assert [p["amount"] for p in data["plugins"]["purchases"]["purchases"]] == [100]
    purchases.FAIL.add("export")
    assert_problem(api.get(f"{BASE}/{cid}/export", a), 500)


def test_hook_plugboard_customer_erase(shop: dict[str, Any]) -> None:
    app, api, a = shop["app"], shop["api"], shop["a"]
    cid = buy(app, a, "ann@example.com", 100)
    other = buy(app, shop["b"], "ann@example.com", 700)
    assert api.delete(f"{BASE}/{cid}", a).status_code == 204
    assert_problem(api.get(f"{BASE}/{cid}", a), 404)
    with app.app_context(), tenant_scope(uuid.UUID(a.tenant_id)):
        row = db.session.get(Customer, uuid.UUID(cid))
        assert row is not None and row.erased_at is not None
        assert "ann" not in row.email and row.name == "Erased customer" and row.phone is None
        money = db.session.scalars(sa.select(purchases.Purchase)).all()
        assert [(m.amount, m.buyer_email) for m in money] == [(100, None)]  # kept, anonymised
        names = db.session.scalars(sa.select(OutboxEvent.name)).all()
        assert "customer.erased" in names
    # the other tenant's customer of the same e-mail is untouched
    with app.app_context(), tenant_scope(uuid.UUID(shop["b"].tenant_id)):
        kept = db.session.scalars(sa.select(purchases.Purchase)).one()
        assert kept.buyer_email == "ann@example.com" and str(kept.customer_id) == other
    # the same e-mail may come back as a new customer
    assert buy(app, a, "ann@example.com", 5) != cid


def test_erase_is_all_or_nothing(shop: dict[str, Any]) -> None:
    app, api, a = shop["app"], shop["api"], shop["a"]
    cid = buy(app, a, "ann@example.com", 100)
    purchases.FAIL.add("erase")
    assert_problem(api.delete(f"{BASE}/{cid}", a), 500)
    assert api.get(f"{BASE}/{cid}", a).get_json()["email"] == "ann@example.com"


@pytest.mark.postgres_only
def test_concurrent_checkouts_with_one_email_make_one_customer(shop: dict[str, Any]) -> None:
    app, a = shop["app"], shop["a"]
    barrier = threading.Barrier(8)
    found: list[str] = []
    errors: list[BaseException] = []

    def checkout() -> None:
        try:
            barrier.wait(timeout=10)
            found.append(buy(app, a, "race@example.com", 1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=checkout) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(found) == 8
    assert len(set(found)) == 1
    with app.app_context(), tenant_scope(uuid.UUID(a.tenant_id)):
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Customer)
                                  .where(Customer.email == "race@example.com"))
        assert count == 1
