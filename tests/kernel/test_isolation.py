"""Cross-tenant sweep: a tenant can neither see nor touch another tenant's rows through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.helpers import Account, Api, assert_problem, snapshot

ITEM_ROUTES = {
    "members": "/api/v1/tenant/members/{}",
    "domains": "/api/v1/tenant/domains/{}",
    "api_keys": "/api/v1/api-keys/{}",
}
LIST_ROUTES = {
    "members": "/api/v1/tenant/members",
    "domains": "/api/v1/tenant/domains",
    "api_keys": "/api/v1/api-keys",
}
# A valid body per method, so that a 404 cannot hide behind a 422.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("members", "PATCH"): {"role": "analyst"},
    ("members", "PUT"): {"role": "analyst"},
    ("domains", "PATCH"): {"hostname": "moved.example"},
    ("domains", "PUT"): {"hostname": "moved.example"},
    ("api_keys", "PATCH"): {"name": "renamed"},
    ("api_keys", "PUT"): {"name": "renamed"},
}
METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "POST")


@dataclass
class Tenant:
    owner: Account
    member_id: str
    domain_id: str
    key_id: str
    key: str

    def ids(self, kind: str) -> str:
        return {"members": self.member_id, "domains": self.domain_id, "api_keys": self.key_id}[kind]


def _tenant(api: Api, slug: str) -> Tenant:
    owner = api.register(slug)
    member = api.post("/api/v1/tenant/members", owner,
                      json={"email": f"staff@{slug}.example.com", "role": "manager"})
    domain = api.post("/api/v1/tenant/domains", owner, json={"hostname": f"www.{slug}.example"})
    key = api.post("/api/v1/api-keys", owner, json={"name": "ci", "role": "admin"})
    assert (member.status_code, domain.status_code, key.status_code) == (201, 201, 201)
    return Tenant(owner, member.get_json()["id"], domain.get_json()["id"],
                  key.get_json()["id"], key.get_json()["key"])


@pytest.fixture
def pair(api: Api) -> tuple[Tenant, Tenant]:
    return _tenant(api, "iso-a"), _tenant(api, "iso-b")


def _allowed(app: Flask, path: str) -> set[str]:
    adapter = app.url_map.bind("localhost")
    return set(adapter.allowed_methods(path))


def _key_account(tenant: Tenant) -> Account:
    """The tenant's API key, used like an account."""
    return Account("", "", "", "", tenant.owner.tenant_slug, tenant.key, "")


@pytest.mark.parametrize("auth", ["jwt", "api_key"])
def test_sweep_other_tenants_ids_answer_404(api: Api, app: Flask, pair: tuple[Tenant, Tenant],
                                           auth: str) -> None:
    a, b = pair
    caller = a.owner if auth == "jwt" else _key_account(a)
    assert api.get("/api/v1/tenant", caller).status_code == 200  # the key's last_used_at is set now
    before = snapshot(app)
    checked = 0
    for kind, template in ITEM_ROUTES.items():
        foreign, own = template.format(b.ids(kind)), template.format(a.ids(kind))
        allowed = _allowed(app, foreign)
        assert {"GET", "DELETE"} <= allowed, (kind, allowed)
        for method in METHODS:
            body = BODIES.get((kind, method))
            resp = api.call(method, foreign, caller, json=body)
            if method not in allowed:
                # no oracle: an unsupported method answers the same for any id
                assert resp.status_code == 405
                assert api.call(method, own, caller, json=body).status_code == 405
                continue
            if method == "HEAD":
                assert resp.status_code == 404, (kind, method)
                continue
            assert_problem(resp, 404)
            checked += 1
    assert checked >= 7
    assert snapshot(app) == before


def test_other_tenants_rows_are_not_listed(api: Api, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    for kind, path in LIST_ROUTES.items():
        resp = api.get(path, a.owner)
        assert resp.status_code == 200
        ids = {row["id"] for row in resp.get_json()}
        assert a.ids(kind) in ids
        assert b.ids(kind) not in ids
        total = resp.headers["X-Pagination"]
        assert '"total": 2' in total if kind == "members" else '"total": 1' in total


def test_other_tenant_cannot_be_addressed_by_header(api: Api, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    spoof = {"X-Tenant": b.owner.tenant_slug}
    resp = api.get("/api/v1/tenant", a.owner, headers=spoof)
    assert resp.get_json()["slug"] == "iso-a"
    resp = api.get("/api/v1/tenant/members", a.owner, headers=spoof)
    assert b.member_id not in {m["id"] for m in resp.get_json()}
    # a token of A cannot be switched to B, where its user is no member
    resp = api.post("/api/v1/auth/switch-tenant", a.owner, json={"tenant": "iso-b"})
    assert_problem(resp, 403, "not-a-member")
    # nor can A's user log in to B
    resp = api.post("/api/v1/auth/login", json={"email": a.owner.email, "password": a.owner.password,
                                                 "tenant": "iso-b"})
    assert_problem(resp, 403, "not-a-member")


def test_domain_of_other_tenant_cannot_be_taken(api: Api, app: Flask,
                                                pair: tuple[Tenant, Tenant]) -> None:
    a, _ = pair
    before = snapshot(app)
    resp = api.post("/api/v1/tenant/domains", a.owner, json={"hostname": "www.iso-b.example"})
    assert_problem(resp, 409, "domain-taken")
    assert snapshot(app) == before


def test_member_of_both_tenants_is_scoped_by_token(api: Api, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    both = api.add_member(a.owner, "both@example.com", "admin")
    assert api.post("/api/v1/tenant/members", b.owner,
                    json={"email": "both@example.com", "role": "support"}).status_code == 201
    # the token of A works only on A's rows, whatever the user may do in B
    assert_problem(api.delete(f"/api/v1/tenant/domains/{b.domain_id}", both), 404)
    tokens = api.post("/api/v1/auth/switch-tenant", both, json={"tenant": "iso-b"}).get_json()
    in_b = Account(both.email, both.password, both.user_id, "", "iso-b",
                   tokens["access_token"], tokens["refresh_token"])
    assert api.get(f"/api/v1/tenant/domains/{b.domain_id}", in_b).status_code == 200
    assert_problem(api.delete(f"/api/v1/tenant/domains/{b.domain_id}", in_b), 403, "forbidden")
    assert_problem(api.get(f"/api/v1/tenant/domains/{a.domain_id}", in_b), 404)
