"""``/api/v1/tenant/members``: list, invite with a role, change role, remove."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel import create_app
from kernel.data.models import RefreshToken
from kernel.data.session import db
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope
from tests.helpers import (
    PASSWORD,
    Account,
    Api,
    MailBox,
    assert_problem,
    assert_rejected,
    free_port,
    row_counts,
)

MEMBERS = "/api/v1/tenant/members"


def _members(api: Api, acct: Account, **query: int) -> list[dict[str, str]]:
    resp = api.get(MEMBERS, acct, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    rows: list[dict[str, str]] = resp.get_json()
    return rows


def _member_id(api: Api, owner: Account, email: str) -> str:
    return next(m["id"] for m in _members(api, owner) if m["email"] == email)


def test_list_members_paginated(api: Api) -> None:
    owner = api.register("mem-a")
    api.register("mem-other")  # another tenant's owner never shows up
    for i in range(4):
        resp = api.post(MEMBERS, owner, json={"email": f"m{i}@example.com", "role": "analyst"})
        assert resp.status_code == 201
    resp = api.get(MEMBERS, owner, query_string={"page": 1, "page_size": 2})
    assert resp.status_code == 200
    assert json.loads(resp.headers["X-Pagination"]) == {
        "total": 5, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 1, "next_page": 2}
    first = resp.get_json()
    assert [m["email"] for m in first] == [owner.email, "m0@example.com"]  # oldest first
    assert set(first[0]) == {"id", "user_id", "email", "name", "role", "created_at"}
    assert first[0]["role"] == "owner"
    last = api.get(MEMBERS, owner, query_string={"page": 3, "page_size": 2})
    assert [m["email"] for m in last.get_json()] == ["m3@example.com"]
    assert json.loads(last.headers["X-Pagination"])["previous_page"] == 2
    problem = assert_problem(api.get(MEMBERS, owner, query_string={"page_size": 1000}), 422)
    assert problem["errors"][0]["pointer"] == "/page_size"


def test_add_new_user_mails_an_invitation(api: Api, mailbox: MailBox) -> None:
    owner = api.register("mem-inv")
    resp = api.post(MEMBERS, owner, json={"email": "New.Person@Example.com", "role": "manager",
                                          "name": "New Person"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["email"], body["name"], body["role"]) == ("new.person@example.com", "New Person", "manager")
    mails = mailbox.to("new.person@example.com")
    assert len(mails) == 1
    assert mails[0]["Subject"] == "You have been added to Tenant mem-inv"
    text = mails[0].get_payload(decode=True).decode()
    assert "as manager" in text and "Owner of mem-inv" in text
    # the mailed link sets a password, and the new member can then log in to the tenant
    token = mailbox.last_token("new.person@example.com")
    reset = api.post("/api/v1/auth/password/reset", json={"token": token, "password": "a new password 1"})
    assert reset.status_code == 204
    tokens = api.login("new.person@example.com", "a new password 1", tenant="mem-inv")
    me = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.get_json()["role"] == "manager"


def test_add_existing_user_mails_without_token(api: Api, mailbox: MailBox) -> None:
    owner = api.register("mem-ex")
    other = api.register("mem-ex2")
    resp = api.post(MEMBERS, owner, json={"email": other.email, "role": "support"})
    assert resp.status_code == 201
    assert resp.get_json()["user_id"] == other.user_id
    text = mailbox.to(other.email)[-1].get_payload(decode=True).decode()
    assert "token=" not in text
    api.login(other.email, tenant="mem-ex")  # their own password still works
    dup = api.post(MEMBERS, owner, json={"email": other.email, "role": "analyst"})
    assert_problem(dup, 409, "already-a-member")


def test_change_role(api: Api) -> None:
    owner = api.register("mem-role")
    member = api.add_member(owner, "staff@example.com", "analyst")
    member_id = _member_id(api, owner, "staff@example.com")
    resp = api.patch(f"{MEMBERS}/{member_id}", owner, json={"role": "admin"})
    assert resp.status_code == 200
    assert resp.get_json()["role"] == "admin"
    assert api.get(f"{MEMBERS}/{member_id}", owner).get_json()["role"] == "admin"
    # their next login carries the new role
    tokens = api.login(member.email, tenant="mem-role")
    me = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.get_json()["role"] == "admin"


def test_remove_member(api: Api, app: Flask) -> None:
    owner = api.register("mem-rm")
    api.add_member(owner, "gone@example.com", "support")
    member_id = _member_id(api, owner, "gone@example.com")
    assert api.delete(f"{MEMBERS}/{member_id}", owner).status_code == 204
    assert [m["email"] for m in _members(api, owner)] == [owner.email]
    assert_problem(api.delete(f"{MEMBERS}/{member_id}", owner), 404, "not-found")
    assert_problem(api.get(f"{MEMBERS}/{member_id}", owner), 404, "not-found")
    resp = api.post("/api/v1/auth/login", json={"email": "gone@example.com", "password": PASSWORD,
                                                 "tenant": "mem-rm"})
    assert_problem(resp, 403, "not-a-member")


def test_removing_member_revokes_their_refresh_tokens_of_that_tenant(api: Api, app: Flask) -> None:
    owner = api.register("mem-tok")
    other = api.register("mem-tok2")
    member = api.add_member(owner, "leaver@example.com", "manager")
    resp = api.post(MEMBERS, other, json={"email": "leaver@example.com", "role": "analyst"})
    assert resp.status_code == 201
    elsewhere = api.login("leaver@example.com", tenant="mem-tok2")
    member_id = _member_id(api, owner, "leaver@example.com")
    assert api.delete(f"{MEMBERS}/{member_id}", owner).status_code == 204
    with app.app_context(), platform_scope():
        rows = db.session.execute(
            sa.select(RefreshToken.tenant_id, RefreshToken.revoked_at)
            .where(RefreshToken.user_id == uuid.UUID(member.user_id))
        ).all()
    here = [revoked for tid, revoked in rows if str(tid) == owner.tenant_id]
    there = [revoked for tid, revoked in rows if str(tid) == other.tenant_id]
    assert here and all(r is not None for r in here)
    assert there and all(r is None for r in there)  # their sessions elsewhere go on
    assert_problem(api.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token}), 401)
    resp = api.post("/api/v1/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]})
    assert resp.status_code == 200


def test_last_owner_cannot_be_removed_or_demoted(api: Api, app: Flask) -> None:
    owner = api.register("mem-last")
    api.register("mem-last-other")  # owners of other tenants do not count
    owner_id = _member_id(api, owner, owner.email)
    before = row_counts(app)
    assert_problem(api.patch(f"{MEMBERS}/{owner_id}", owner, json={"role": "admin"}), 409, "last-owner")
    assert_problem(api.delete(f"{MEMBERS}/{owner_id}", owner), 409, "last-owner")
    assert row_counts(app) == before
    assert api.get(f"{MEMBERS}/{owner_id}", owner).get_json()["role"] == "owner"
    # with a second owner, the first may step down
    api.add_member(owner, "co-owner@example.com", "owner")
    resp = api.patch(f"{MEMBERS}/{owner_id}", owner, json={"role": "admin"})
    assert resp.status_code == 200
    assert resp.get_json()["role"] == "admin"


def test_admin_cannot_grant_or_touch_owner(api: Api, app: Flask) -> None:
    owner = api.register("mem-adm")
    admin = api.add_member(owner, "admin@example.com", "admin")
    api.add_member(owner, "analyst@example.com", "analyst")
    owner_id = _member_id(api, owner, owner.email)
    analyst_id = _member_id(api, owner, "analyst@example.com")
    before = row_counts(app)
    resp = api.post(MEMBERS, admin, json={"email": "x@example.com", "role": "owner"})
    assert_problem(resp, 403, "forbidden")
    assert_problem(api.patch(f"{MEMBERS}/{analyst_id}", admin, json={"role": "owner"}), 403, "forbidden")
    assert_problem(api.patch(f"{MEMBERS}/{owner_id}", admin, json={"role": "analyst"}), 403, "forbidden")
    assert_problem(api.delete(f"{MEMBERS}/{owner_id}", admin), 403, "forbidden")
    assert row_counts(app) == before
    # below owner, an admin manages members
    resp = api.patch(f"{MEMBERS}/{analyst_id}", admin, json={"role": "manager"})
    assert resp.status_code == 200
    assert api.post(MEMBERS, admin, json={"email": "y@example.com", "role": "admin"}).status_code == 201


@pytest.mark.parametrize("role", ["manager", "support", "analyst"])
def test_roles_below_admin_cannot_manage_members(api: Api, app: Flask, role: str) -> None:
    owner = api.register(f"mem-{role}")
    caller = api.add_member(owner, f"{role}@example.com", role)
    owner_id = _member_id(api, owner, owner.email)
    listing = api.get(MEMBERS, caller)
    assert listing.status_code == (403 if role == "analyst" else 200)
    before = row_counts(app)
    assert_problem(api.post(MEMBERS, caller, json={"email": "z@example.com", "role": "analyst"}), 403)
    assert_problem(api.patch(f"{MEMBERS}/{owner_id}", caller, json={"role": "analyst"}), 403)
    assert_problem(api.delete(f"{MEMBERS}/{owner_id}", caller), 403)
    assert row_counts(app) == before


def test_members_need_authentication(api: Api) -> None:
    assert_problem(api.get(MEMBERS), 401, "unauthenticated")
    assert_problem(api.post(MEMBERS, json={"email": "a@example.com", "role": "analyst"}), 401)


@pytest.mark.parametrize(("body", "pointer"), [
    ({"role": "analyst"}, "/email"),
    ({"email": "a@example.com"}, "/role"),
    ({"email": "not-an-email", "role": "analyst"}, "/email"),
    ({"email": 42, "role": "analyst"}, "/email"),
    ({"email": "a@example.com", "role": "emperor"}, "/role"),
    ({"email": "a@example.com", "role": ["admin"]}, "/role"),
    ({"email": "a@example.com", "role": "analyst", "name": ""}, "/name"),
    ({"email": "a@example.com", "role": "analyst", "is_platform_admin": True}, "/is_platform_admin"),
])
def test_add_member_bad_input(api: Api, body: dict[str, object], pointer: str) -> None:
    owner = api.register("mem-bad")
    assert_rejected(api, "POST", MEMBERS, owner, body, pointer)


@pytest.mark.parametrize(("body", "pointer"), [
    ({}, "/role"),
    ({"role": None}, "/role"),
    ({"role": "superuser"}, "/role"),
    ({"role": "admin", "email": "b@example.com"}, "/email"),
])
def test_change_role_bad_input(api: Api, body: dict[str, object], pointer: str) -> None:
    owner = api.register("mem-badp")
    api.add_member(owner, "p@example.com", "analyst")
    member_id = _member_id(api, owner, "p@example.com")
    assert_rejected(api, "PATCH", f"{MEMBERS}/{member_id}", owner, body, pointer)


def test_member_id_must_be_uuid(api: Api) -> None:
    owner = api.register("mem-id")
    assert_problem(api.delete(f"{MEMBERS}/not-a-uuid", owner), 404)
    assert_problem(api.patch(f"{MEMBERS}/{uuid.uuid4()}", owner, json={"role": "analyst"}), 404, "not-found")


def test_invitation_mail_failure_keeps_the_member(app: Flask, app_config: dict[str, object]) -> None:
    """The member is added either way; a dead mail server must not turn that into a 500."""
    broken = create_app({**app_config, "smtp_url": f"smtp://127.0.0.1:{free_port()}"})
    try:
        api = Api(broken.test_client(), broken)
        owner = api.register("mem-nomail")
        resp = api.post(MEMBERS, owner, json={"email": "offline@example.com", "role": "support"})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        assert [m["email"] for m in _members(api, owner)] == [owner.email, "offline@example.com"]
    finally:
        kernel_services(broken).engine.dispose()


def test_removed_or_demoted_member_loses_rights_at_once(api: Api, app: Flask) -> None:
    owner = api.register("mem-now")
    demoted = api.add_member(owner, "demoted@example.com", "admin")
    removed = api.add_member(owner, "removed@example.com", "admin")
    assert api.patch(f"{MEMBERS}/{_member_id(api, owner, demoted.email)}", owner,
                     json={"role": "analyst"}).status_code == 200
    assert api.delete(f"{MEMBERS}/{_member_id(api, owner, removed.email)}", owner).status_code == 204
    before = row_counts(app)
    assert_problem(api.post("/api/v1/tenant/domains", demoted, json={"hostname": "d.example"}), 403)
    assert_problem(api.post("/api/v1/tenant/domains", removed, json={"hostname": "r.example"}), 401)
    assert row_counts(app) == before
