"""``/api/v1/api-keys``: keys shown once, stored hashed, bound to a tenant and a role."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.models import ApiKey
from kernel.data.session import db
from kernel.tenancy.scope import platform_scope
from tests.helpers import Account, Api, assert_problem, assert_rejected, row_counts

KEYS = "/api/v1/api-keys"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create(api: Api, acct: Account, **body: object) -> dict[str, str]:
    resp = api.post(KEYS, acct, json={"name": "ci", **body})
    assert resp.status_code == 201, resp.get_json()
    created: dict[str, str] = resp.get_json()
    return created


def test_create_shows_secret_once(api: Api, app: Flask) -> None:
    owner = api.register("key-a")
    created = _create(api, owner, role="manager")
    key = created["key"]
    assert key.startswith(f"pbk_{created['prefix']}_")
    assert created["role"] == "manager" and created["name"] == "ci"
    assert created["revoked_at"] is None and created["last_used_at"] is None
    listing = api.get(KEYS, owner)
    assert listing.status_code == 200
    rows = listing.get_json()
    assert [r["id"] for r in rows] == [created["id"]]
    assert set(rows[0]) == {"id", "name", "prefix", "role", "created_at", "expires_at",
                            "last_used_at", "revoked_at"}
    single = api.get(f"{KEYS}/{created['id']}", owner).get_data(as_text=True)
    secret = key.split("_", 2)[2]  # pbk_<prefix>_<secret>
    assert secret not in listing.get_data(as_text=True) and secret not in single
    # only a digest is stored
    with app.app_context(), platform_scope():
        row = db.session.get(ApiKey, uuid.UUID(created["id"]))
        assert row is not None
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert secret not in json.dumps([str(v) for v in vars(row).values()])


def test_key_works_as_bearer_for_its_tenant_and_role(api: Api) -> None:
    owner = api.register("key-b")
    api.register("key-other")
    key = _create(api, owner, role="analyst")["key"]
    resp = api.get("/api/v1/tenant", headers=_bearer(key))
    assert resp.status_code == 200
    assert resp.get_json()["slug"] == "key-b"
    me = api.get("/api/v1/auth/me", headers=_bearer(key)).get_json()
    assert (me["auth"], me["role"], me["tenant"]["slug"]) == ("api_key", "analyst", "key-b")
    # an analyst key is held to the analyst's permissions
    assert_problem(api.patch("/api/v1/tenant", headers=_bearer(key), json={"name": "x"}), 403, "forbidden")
    assert_problem(api.get(KEYS, headers=_bearer(key)), 403, "forbidden")
    # an X-Tenant header cannot move a key to another tenant
    other = api.get("/api/v1/tenant", headers={**_bearer(key), "X-Tenant": "key-other"})
    assert other.get_json()["slug"] == "key-b"
    listed = api.get(KEYS, owner).get_json()[0]
    assert listed["last_used_at"] is not None


def test_revoke(api: Api) -> None:
    owner = api.register("key-c")
    created = _create(api, owner)
    keep = _create(api, owner, name="keep")
    assert api.get("/api/v1/tenant", headers=_bearer(created["key"])).status_code == 200
    assert api.delete(f"{KEYS}/{created['id']}", owner).status_code == 204
    assert_problem(api.get("/api/v1/tenant", headers=_bearer(created["key"])), 401, "unauthenticated")
    assert api.get("/api/v1/tenant", headers=_bearer(keep["key"])).status_code == 200
    assert_problem(api.delete(f"{KEYS}/{created['id']}", owner), 404, "not-found")
    revoked = api.get(f"{KEYS}/{created['id']}", owner).get_json()
    assert revoked["revoked_at"] is not None


def test_key_can_revoke_itself(api: Api) -> None:
    owner = api.register("key-self")
    created = _create(api, owner, role="admin")
    assert api.delete(f"{KEYS}/{created['id']}", headers=_bearer(created["key"])).status_code == 204
    assert_problem(api.get(KEYS, headers=_bearer(created["key"])), 401)


def test_role_cannot_exceed_creators(api: Api, app: Flask) -> None:
    owner = api.register("key-d")
    admin = api.add_member(owner, "admin@example.com", "admin")
    before = row_counts(app)
    assert_problem(api.post(KEYS, admin, json={"name": "x", "role": "owner"}), 403, "forbidden")
    assert row_counts(app) == before
    admin_key = _create(api, admin, role="admin")
    assert _create(api, admin, role="support")["role"] == "support"
    # a key creating keys is held to its own role too
    resp = api.post(KEYS, headers=_bearer(admin_key["key"]), json={"name": "y", "role": "owner"})
    assert_problem(resp, 403, "forbidden")
    assert _create(api, owner, role="owner")["role"] == "owner"


def test_default_role_is_admin(api: Api) -> None:
    owner = api.register("key-def")
    assert _create(api, owner)["role"] == "admin"


@pytest.mark.parametrize("role", ["manager", "support", "analyst"])
def test_roles_below_admin_cannot_use_keys_api(api: Api, app: Flask, role: str) -> None:
    owner = api.register(f"key-{role}")
    key_id = _create(api, owner)["id"]
    caller = api.add_member(owner, f"{role}@example.com", role)
    before = row_counts(app)
    assert_problem(api.get(KEYS, caller), 403, "forbidden")
    assert_problem(api.post(KEYS, caller, json={"name": "x", "role": "analyst"}), 403, "forbidden")
    assert_problem(api.delete(f"{KEYS}/{key_id}", caller), 403, "forbidden")
    assert row_counts(app) == before


def test_expiry(api: Api, app: Flask) -> None:
    owner = api.register("key-e")
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    created = _create(api, owner, expires_at=soon)
    assert created["expires_at"] is not None
    assert api.get("/api/v1/tenant", headers=_bearer(created["key"])).status_code == 200
    with app.app_context(), platform_scope():
        db.session.execute(sa.update(ApiKey).where(ApiKey.id == uuid.UUID(created["id"]))
                           .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.session.commit()
    assert_problem(api.get("/api/v1/tenant", headers=_bearer(created["key"])), 401)


def test_bad_keys_are_401(api: Api) -> None:
    owner = api.register("key-f")
    key = _create(api, owner)["key"]
    for bad in ("pbk_nothing", key[:-1] + ("A" if key[-1] != "A" else "B"), "pbk_00000000_abc"):
        assert_problem(api.get("/api/v1/tenant", headers=_bearer(bad)), 401, "unauthenticated")


@pytest.mark.parametrize(("body", "pointer"), [
    ({}, "/name"),
    ({"name": ""}, "/name"),
    ({"name": 5}, "/name"),
    ({"name": "x" * 201}, "/name"),
    ({"name": "x", "role": "root"}, "/role"),
    ({"name": "x", "role": 1}, "/role"),
    ({"name": "x", "expires_at": "tomorrow"}, "/expires_at"),
    ({"name": "x", "expires_at": "2999-01-01T00:00:00"}, "/expires_at"),  # no time zone
    ({"name": "x", "expires_at": "2001-01-01T00:00:00+00:00"}, "/expires_at"),  # past
    ({"name": "x", "prefix": "abcd1234"}, "/prefix"),
    ({"name": "x", "key_hash": "0" * 64}, "/key_hash"),
])
def test_create_bad_input(api: Api, body: dict[str, object], pointer: str) -> None:
    owner = api.register("key-bad")
    assert_rejected(api, "POST", KEYS, owner, body, pointer)
    assert api.get(KEYS, owner).get_json() == []
