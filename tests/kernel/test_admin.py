"""``/api/v1/admin/tenants``: platform admins list, search, create, update and suspend tenants."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.models import User
from kernel.data.session import db
from tests.helpers import Account, Api, assert_problem, assert_rejected, row_counts

TENANTS = "/api/v1/admin/tenants"


def _tenants(api: Api, admin: Account, **query: object) -> tuple[list[dict[str, str]], dict[str, int]]:
    resp = api.get(TENANTS, admin, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json(), json.loads(resp.headers["X-Pagination"])


def test_list_search_paginate(api: Api) -> None:
    for slug in ("alpha", "beta", "gamma", "alphabet"):
        api.register(slug)
    admin = api.make_admin()
    rows, page = _tenants(api, admin)
    assert [r["slug"] for r in rows] == ["alpha", "beta", "gamma", "alphabet"]  # oldest first
    assert page["total"] == 4
    assert set(rows[0]) == {"id", "slug", "name", "status", "settings", "created_at", "updated_at"}
    rows, _ = _tenants(api, admin, q="ALPHA")
    assert [r["slug"] for r in rows] == ["alpha", "alphabet"]
    rows, _ = _tenants(api, admin, q="tenant gam")  # names match too
    assert [r["slug"] for r in rows] == ["gamma"]
    rows, _ = _tenants(api, admin, q="%")  # a wildcard is a literal character
    assert rows == []
    rows, page = _tenants(api, admin, page=2, page_size=3)
    assert [r["slug"] for r in rows] == ["alphabet"]
    assert (page["total"], page["total_pages"], page["page"]) == (4, 2, 2)


def test_filter_by_status(api: Api) -> None:
    api.register("live")
    sleepy = api.register("sleepy")
    admin = api.make_admin()
    api.patch(f"{TENANTS}/{sleepy.tenant_id}", admin, json={"status": "suspended"})
    assert [r["slug"] for r in _tenants(api, admin, status="suspended")[0]] == ["sleepy"]
    assert [r["slug"] for r in _tenants(api, admin, status="active")[0]] == ["live"]
    assert_problem(api.get(TENANTS, admin, query_string={"status": "gone"}), 422, "validation-error")


def test_create_tenant_with_owner(api: Api) -> None:
    user = api.register("own-first")
    admin = api.make_admin()
    resp = api.post(TENANTS, admin, json={"name": "Second Shop", "slug": "second", "owner_email": user.email})
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert (created["slug"], created["name"], created["status"]) == ("second", "Second Shop", "active")
    assert api.get(f"{TENANTS}/{created['id']}", admin).get_json() == created
    tokens = api.login(user.email, tenant="second")
    me = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert (me.get_json()["tenant"]["slug"], me.get_json()["role"]) == ("second", "owner")


def test_create_without_owner_and_conflicts(api: Api, app: Flask) -> None:
    taken = api.register("taken")
    admin = api.make_admin()
    assert api.post(TENANTS, admin, json={"name": "Empty", "slug": "empty"}).status_code == 201
    before = row_counts(app)
    assert_problem(api.post(TENANTS, admin, json={"name": "Again", "slug": "taken"}), 409, "slug-taken")
    problem = assert_rejected(api, "POST", TENANTS, admin,
                              {"name": "N", "slug": "n", "owner_email": "ghost@example.com"}, "/owner_email")
    assert "register" in problem["detail"]
    assert row_counts(app) == before
    assert taken.tenant_id not in {r["id"] for r in _tenants(api, admin, q="empty")[0]}


@pytest.mark.parametrize(("body", "pointer"), [
    ({"slug": "x"}, "/name"),
    ({"name": "X"}, "/slug"),
    ({"name": "X", "slug": "Upper"}, "/slug"),
    ({"name": "X", "slug": "-x"}, "/slug"),
    ({"name": "X", "slug": "www"}, "/slug"),
    ({"name": "X", "slug": 3}, "/slug"),
    ({"name": "", "slug": "x"}, "/name"),
    ({"name": "X", "slug": "x", "owner_email": "nope"}, "/owner_email"),
    ({"name": "X", "slug": "x", "status": "active"}, "/status"),
])
def test_create_bad_input(api: Api, body: dict[str, object], pointer: str) -> None:
    admin = api.make_admin()
    assert_rejected(api, "POST", TENANTS, admin, body, pointer)


def test_patch_and_suspend(api: Api) -> None:
    owner = api.register("susp")
    key = api.post("/api/v1/api-keys", owner, json={"name": "k"}).get_json()["key"]
    admin = api.make_admin()
    url = f"{TENANTS}/{owner.tenant_id}"
    resp = api.patch(url, admin, json={"name": "Renamed", "settings": {"plan": "pro"}})
    assert resp.status_code == 200
    assert (resp.get_json()["name"], resp.get_json()["settings"]) == ("Renamed", {"plan": "pro"})
    assert api.get("/api/v1/tenant", owner).get_json()["name"] == "Renamed"

    assert api.patch(url, admin, json={"status": "suspended"}).get_json()["status"] == "suspended"
    assert_problem(api.get("/api/v1/tenant", owner), 403, "tenant-suspended")
    assert_problem(api.get("/api/v1/tenant", headers={"Authorization": f"Bearer {key}"}), 403,
                   "tenant-suspended")
    assert_problem(api.post("/api/v1/tenant/domains", owner, json={"hostname": "a.example"}), 403,
                   "tenant-suspended")
    resp = api.post("/api/v1/auth/switch-tenant", owner, json={"tenant": "susp"})
    assert resp.status_code == 403

    assert api.patch(url, admin, json={"status": "active"}).get_json()["status"] == "active"
    assert api.get("/api/v1/tenant", owner).status_code == 200


@pytest.mark.parametrize(("body", "pointer"), [
    ({"status": "deleted"}, "/status"),
    ({"status": True}, "/status"),
    ({"name": ""}, "/name"),
    ({"slug": "other"}, "/slug"),
    ({"settings": 1}, "/settings"),
])
def test_patch_bad_input(api: Api, body: dict[str, object], pointer: str) -> None:
    owner = api.register("patchbad")
    admin = api.make_admin()
    assert_rejected(api, "PATCH", f"{TENANTS}/{owner.tenant_id}", admin, body, pointer)


def test_unknown_tenant_is_404(api: Api) -> None:
    admin = api.make_admin()
    missing = f"{TENANTS}/{uuid.uuid4()}"
    assert_problem(api.get(missing, admin), 404, "not-found")
    assert_problem(api.patch(missing, admin, json={"name": "x"}), 404, "not-found")


def test_non_admins_are_refused(api: Api, app: Flask) -> None:
    owner = api.register("plain")
    key = api.post("/api/v1/api-keys", owner, json={"name": "k", "role": "owner"}).get_json()["key"]
    before = row_counts(app)
    for who in ({"Authorization": f"Bearer {owner.access_token}"}, {"Authorization": f"Bearer {key}"}):
        assert_problem(api.get(TENANTS, headers=who), 403, "forbidden")
        assert_problem(api.post(TENANTS, headers=who, json={"name": "X", "slug": "x"}), 403, "forbidden")
        assert_problem(api.get(f"{TENANTS}/{owner.tenant_id}", headers=who), 403, "forbidden")
        assert_problem(api.patch(f"{TENANTS}/{owner.tenant_id}", headers=who,
                                 json={"status": "suspended"}), 403, "forbidden")
        assert_problem(api.get("/api/v1/admin/audit-log", headers=who), 403, "forbidden")
    assert_problem(api.get(TENANTS), 401, "unauthenticated")
    assert row_counts(app) == before


def test_admin_right_is_checked_in_the_database(api: Api, app: Flask) -> None:
    admin = api.make_admin()
    assert api.get(TENANTS, admin).status_code == 200
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == admin.email).values(is_platform_admin=False))
        db.session.commit()
    # the token still says "platform admin"; the database no longer does
    assert_problem(api.get(TENANTS, admin), 403, "forbidden")
