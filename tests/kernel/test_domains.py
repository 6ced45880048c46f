"""``/api/v1/tenant/domains``: custom storefront domains, globally unique."""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask

from tests.helpers import Api, assert_problem, assert_rejected, row_counts

DOMAINS = "/api/v1/tenant/domains"


def test_add_list_get_delete(api: Api) -> None:
    owner = api.register("dom-a")
    resp = api.post(DOMAINS, owner, json={"hostname": "  Shop.Example.COM. "})
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert set(created) == {"id", "hostname", "created_at"}
    assert created["hostname"] == "shop.example.com"  # normalised
    assert api.post(DOMAINS, owner, json={"hostname": "a.example.org"}).status_code == 201
    listing = api.get(DOMAINS, owner)
    assert [d["hostname"] for d in listing.get_json()] == ["a.example.org", "shop.example.com"]
    assert json.loads(listing.headers["X-Pagination"])["total"] == 2
    assert api.get(f"{DOMAINS}/{created['id']}", owner).get_json() == created
    assert api.delete(f"{DOMAINS}/{created['id']}", owner).status_code == 204
    assert [d["hostname"] for d in api.get(DOMAINS, owner).get_json()] == ["a.example.org"]
    assert_problem(api.delete(f"{DOMAINS}/{created['id']}", owner), 404, "not-found")
    assert_problem(api.get(f"{DOMAINS}/{uuid.uuid4()}", owner), 404, "not-found")


def test_duplicate_across_tenants_conflicts(api: Api, app: Flask) -> None:
    a, b = api.register("dom-x"), api.register("dom-y")
    assert api.post(DOMAINS, a, json={"hostname": "shop.example.net"}).status_code == 201
    before = row_counts(app)
    assert_problem(api.post(DOMAINS, b, json={"hostname": "SHOP.example.net"}), 409, "domain-taken")
    assert_problem(api.post(DOMAINS, a, json={"hostname": "shop.example.net"}), 409, "domain-taken")
    assert row_counts(app) == before
    assert api.get(DOMAINS, b).get_json() == []
    # once released, another tenant may take it
    domain_id = api.get(DOMAINS, a).get_json()[0]["id"]
    assert api.delete(f"{DOMAINS}/{domain_id}", a).status_code == 204
    assert api.post(DOMAINS, b, json={"hostname": "shop.example.net"}).status_code == 201


@pytest.mark.parametrize("hostname", [
    "localhost", "shop.localhost", "a.b.localhost", "SHOP.LOCALHOST",
])
def test_base_domain_and_its_subdomains_are_refused(api: Api, hostname: str) -> None:
    owner = api.register("dom-base")
    problem = assert_rejected(api, "POST", DOMAINS, owner, {"hostname": hostname}, "/hostname")
    assert "localhost" in problem["errors"][0]["message"] or "hostname" in problem["errors"][0]["message"]


@pytest.mark.parametrize(("body", "pointer"), [
    ({}, "/hostname"),
    ({"hostname": ""}, "/hostname"),
    ({"hostname": "no spaces.example"}, "/hostname"),
    ({"hostname": "under_score.example"}, "/hostname"),
    ({"hostname": "-lead.example"}, "/hostname"),
    ({"hostname": "single-label"}, "/hostname"),
    ({"hostname": "127.0.0.1"}, "/hostname"),
    ({"hostname": "http://shop.example.com/"}, "/hostname"),
    ({"hostname": "shop.example.com:8080"}, "/hostname"),
    ({"hostname": ("a" * 63 + ".") * 4 + "com"}, "/hostname"),
    ({"hostname": 7}, "/hostname"),
    ({"hostname": ["shop.example.com"]}, "/hostname"),
    ({"hostname": "shop.example.com", "tenant_id": str(uuid.uuid4())}, "/tenant_id"),
])
def test_bad_input(api: Api, body: dict[str, object], pointer: str) -> None:
    owner = api.register("dom-bad")
    assert_rejected(api, "POST", DOMAINS, owner, body, pointer)


def test_rbac(api: Api, app: Flask) -> None:
    owner = api.register("dom-rbac")
    assert api.post(DOMAINS, owner, json={"hostname": "keep.example.com"}).status_code == 201
    domain_id = api.get(DOMAINS, owner).get_json()[0]["id"]
    support = api.add_member(owner, "support@example.com", "support")
    manager = api.add_member(owner, "manager@example.com", "manager")
    analyst = api.add_member(owner, "analyst@example.com", "analyst")
    admin = api.add_member(owner, "admin@example.com", "admin")
    assert api.get(DOMAINS, support).status_code == 200
    assert_problem(api.get(DOMAINS, analyst), 403, "forbidden")
    before = row_counts(app)
    assert_problem(api.post(DOMAINS, manager, json={"hostname": "new.example.com"}), 403, "forbidden")
    assert_problem(api.delete(f"{DOMAINS}/{domain_id}", manager), 403, "forbidden")
    assert row_counts(app) == before
    assert api.post(DOMAINS, admin, json={"hostname": "new.example.com"}).status_code == 201
    assert_problem(api.get(DOMAINS), 401, "unauthenticated")


def test_broken_json(api: Api, app: Flask) -> None:
    owner = api.register("dom-json")
    before = row_counts(app)
    resp = api.post(DOMAINS, owner, data='{"hostname": ', content_type="application/json")
    assert_problem(resp, 400)
    assert row_counts(app) == before
