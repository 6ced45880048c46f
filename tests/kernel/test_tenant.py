"""``/api/v1/tenant``: the caller's tenant profile and settings."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.helpers import Api, assert_problem, assert_rejected, row_counts

TENANT = "/api/v1/tenant"


def test_get_profile(api: Api) -> None:
    owner = api.register("prof-a")
    resp = api.get(TENANT, owner)
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"id", "slug", "name", "status", "settings", "created_at", "updated_at"}
    assert (body["id"], body["slug"], body["name"]) == (owner.tenant_id, "prof-a", "Tenant prof-a")
    assert (body["status"], body["settings"]) == ("active", {})


def test_patch_name_and_merge_settings(api: Api) -> None:
    owner = api.register("prof-b")
    resp = api.patch(TENANT, owner, json={"name": "Prof B", "settings": {"theme": "dark", "lang": "en"}})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["name"] == "Prof B"
    assert resp.get_json()["settings"] == {"theme": "dark", "lang": "en"}
    # settings merge key by key; null removes a key; the name stays
    resp = api.patch(TENANT, owner, json={"settings": {"lang": None, "tz": "Europe/Paris"}})
    assert resp.get_json()["settings"] == {"theme": "dark", "tz": "Europe/Paris"}
    assert resp.get_json()["name"] == "Prof B"
    stored = api.get(TENANT, owner).get_json()
    assert stored["settings"] == {"theme": "dark", "tz": "Europe/Paris"}
    assert stored["updated_at"] >= stored["created_at"]
    # a patch that changes nothing is refused (issue 13), and changes nothing
    assert_problem(api.patch(TENANT, owner, json={}), 422, "validation-error")
    assert api.get(TENANT, owner).get_json() == stored


def test_slug_and_status_cannot_be_patched_by_tenant(api: Api, app: Flask) -> None:
    owner = api.register("prof-c")
    assert_rejected(api, "PATCH", TENANT, owner, {"slug": "new-slug"}, "/slug")
    assert_rejected(api, "PATCH", TENANT, owner, {"status": "active"}, "/status")
    assert api.get(TENANT, owner).get_json()["slug"] == "prof-c"


@pytest.mark.parametrize(("role", "may_patch"), [
    ("admin", True), ("manager", False), ("support", False), ("analyst", False),
])
def test_rbac(api: Api, app: Flask, role: str, may_patch: bool) -> None:
    owner = api.register(f"prof-{role}")
    caller = api.add_member(owner, f"{role}@example.com", role)
    assert api.get(TENANT, caller).status_code == 200  # every role reads the profile
    before = row_counts(app)
    resp = api.patch(TENANT, caller, json={"name": f"By {role}"})
    if may_patch:
        assert resp.status_code == 200
        assert api.get(TENANT, owner).get_json()["name"] == f"By {role}"
    else:
        assert_problem(resp, 403, "forbidden")
        assert row_counts(app) == before
        assert api.get(TENANT, owner).get_json()["name"] == f"Tenant prof-{role}"


def test_needs_a_valid_token(api: Api) -> None:
    assert_problem(api.get(TENANT), 401, "unauthenticated")
    assert_problem(api.get(TENANT, headers={"Authorization": "Bearer nope"}), 401, "unauthenticated")
    assert_problem(api.get(TENANT, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    resp = api.patch(TENANT, json={"name": "x"})
    assert_problem(resp, 401, "unauthenticated")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_user_without_tenant_gets_403(api: Api) -> None:
    admin = api.make_admin()  # a platform admin with no membership: no tenant in the token
    assert_problem(api.get(TENANT, admin), 403, "no-tenant")


@pytest.mark.parametrize(("body", "pointer"), [
    ({"name": ""}, "/name"),
    ({"name": None}, "/name"),
    ({"name": 12}, "/name"),
    ({"name": "x" * 201}, "/name"),
    ({"settings": "dark"}, "/settings"),
    ({"settings": ["a"]}, "/settings"),
    ({"name": "ok", "owner": "me"}, "/owner"),
    ({"id": "00000000-0000-0000-0000-000000000000"}, "/id"),
])
def test_patch_bad_input(api: Api, body: dict[str, object], pointer: str) -> None:
    owner = api.register("prof-bad")
    assert_rejected(api, "PATCH", TENANT, owner, body, pointer)
    assert api.get(TENANT, owner).get_json()["name"] == "Tenant prof-bad"


def test_settings_key_too_long_points_at_the_member(api: Api) -> None:
    owner = api.register("prof-key")
    assert_rejected(api, "PATCH", TENANT, owner, {"settings": {"k" * 101: 1}}, "/settings/" + "k" * 101)


def test_patch_body_must_be_an_object(api: Api, app: Flask) -> None:
    owner = api.register("prof-arr")
    before = row_counts(app)
    problem = assert_problem(api.patch(TENANT, owner, json=["name"]), 422, "validation-error")
    assert problem["errors"][0]["pointer"] == ""  # the whole document
    assert row_counts(app) == before
