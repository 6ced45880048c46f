"""The audit log: every successful mutating call leaves one row; admins filter them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from flask import Flask

from kernel.data.models import AuditEntry
from kernel.data.session import db
from kernel.tenancy.scope import platform_scope
from tests.helpers import Account, Api, assert_problem

AUDIT = "/api/v1/admin/audit-log"
CLIENT = {"User-Agent": "audit-test/1.0"}
IP = {"REMOTE_ADDR": "203.0.113.7"}


def _entries(app: Flask) -> list[AuditEntry]:
    with app.app_context(), platform_scope():
        return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.created_at)))


def _call(api: Api, method: str, path: str, acct: Account | None, **kw: Any) -> Any:
    resp = api.call(method, path, acct, headers=CLIENT, environ_base=IP, **kw)
    assert resp.status_code < 400, resp.get_json()
    return resp


def _audit(api: Api, admin: Account, **query: Any) -> list[dict[str, Any]]:
    resp = api.get(AUDIT, admin, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    rows: list[dict[str, Any]] = resp.get_json()
    return rows


def test_every_mutating_call_is_audited(api: Api, app: Flask) -> None:
    owner = api.register("aud-a")
    tid = owner.tenant_id
    calls = [
        ("PATCH", "/api/v1/tenant", {"name": "Audited"}, "tenant.update", "tenant"),
        ("POST", "/api/v1/tenant/members", {"email": "m@example.com", "role": "analyst"},
         "members.add", "membership"),
        ("POST", "/api/v1/tenant/domains", {"hostname": "aud.example"}, "domains.add", "domain"),
        ("POST", "/api/v1/api-keys", {"name": "k"}, "api_keys.create", "api_key"),
    ]
    made: dict[str, str] = {}
    for method, path, body, action, _entity in calls:
        resp = _call(api, method, path, owner, json=body)
        made[action] = resp.get_json()["id"]
        made[action + ".request_id"] = resp.headers["X-Request-ID"]
    member, domain, key = made["members.add"], made["domains.add"], made["api_keys.create"]
    _call(api, "PATCH", f"/api/v1/tenant/members/{member}", owner, json={"role": "support"})
    _call(api, "DELETE", f"/api/v1/tenant/members/{member}", owner)
    _call(api, "DELETE", f"/api/v1/tenant/domains/{domain}", owner)
    _call(api, "DELETE", f"/api/v1/api-keys/{key}", owner)

    rows = [e for e in _entries(app) if e.action != "auth.register"]
    assert [e.action for e in rows] == [
        "tenant.update", "members.add", "domains.add", "api_keys.create",
        "members.update", "members.remove", "domains.remove", "api_keys.revoke"]
    for entry in rows:
        assert (str(entry.tenant_id), entry.actor_type, entry.actor_id) == (tid, "user", owner.user_id)
        assert (entry.ip, entry.user_agent) == ("203.0.113.7", "audit-test/1.0")
        assert entry.status in (200, 201, 204)
        assert entry.request_id
    by_action = {e.action: e for e in rows}
    for *_, action, entity in calls:
        assert (by_action[action].entity_type, by_action[action].entity_id) == (entity, made[action])
    assert (by_action["tenant.update"].entity_type, by_action["tenant.update"].entity_id) == ("tenant", tid)
    removed = by_action["members.remove"]
    assert (removed.entity_type, removed.entity_id) == ("membership", member)
    assert (by_action["domains.add"].entity_type, by_action["domains.add"].entity_id) == ("domain", domain)
    assert by_action["domains.add"].request_id == made["domains.add.request_id"]
    assert by_action["api_keys.revoke"].entity_id == key
    assert by_action["members.update"].details == {"role": "support"}


def test_api_key_caller_is_the_actor(api: Api, app: Flask) -> None:
    owner = api.register("aud-key")
    created = api.post("/api/v1/api-keys", owner, json={"name": "bot"}).get_json()
    bearer = {"Authorization": f"Bearer {created['key']}"}
    assert api.patch("/api/v1/tenant", headers=bearer, json={"name": "By bot"}).status_code == 200
    entry = [e for e in _entries(app) if e.action == "tenant.update"][-1]
    actor = (entry.actor_type, entry.actor_id, str(entry.tenant_id))
    assert actor == ("api_key", created["id"], owner.tenant_id)
    # the secret never reaches the audit trail
    dumped = json.dumps([[str(v) for v in vars(e).values()] for e in _entries(app)])
    assert created["key"].split("_", 2)[2] not in dumped


def test_reads_and_failures_leave_no_entry(api: Api, app: Flask) -> None:
    owner = api.register("aud-ro")
    before = len(_entries(app))
    api.get("/api/v1/tenant", owner)
    api.get("/api/v1/tenant/members", owner)
    assert api.post("/api/v1/tenant/domains", owner, json={"hostname": "bad host"}).status_code == 422
    assert api.delete("/api/v1/tenant/domains/00000000-0000-4000-8000-000000000000", owner).status_code == 404
    assert api.patch("/api/v1/tenant", json={"name": "anon"}).status_code == 401
    assert len(_entries(app)) == before


def test_admin_actions_are_audited_with_their_tenant(api: Api, app: Flask) -> None:
    admin = api.make_admin()
    body = {"name": "New", "slug": "aud-new"}
    created = _call(api, "POST", "/api/v1/admin/tenants", admin, json=body).get_json()
    _call(api, "PATCH", f"/api/v1/admin/tenants/{created['id']}", admin, json={"status": "suspended"})
    rows = [e for e in _entries(app) if e.action.startswith("admin.")]
    assert [(e.action, str(e.tenant_id), e.actor_id) for e in rows] == [
        ("admin.tenants.create", created["id"], admin.user_id),
        ("admin.tenants.update", created["id"], admin.user_id),
    ]
    assert rows[1].details == {"fields": ["status"]}


def test_filter_by_tenant_actor_action_and_time(api: Api, app: Flask) -> None:
    a, b = api.register("aud-fa"), api.register("aud-fb")
    admin = api.make_admin()
    api.patch("/api/v1/tenant", a, json={"name": "A1"})
    api.post("/api/v1/tenant/domains", a, json={"hostname": "fa.example"})
    api.post("/api/v1/tenant/domains", b, json={"hostname": "fb.example"})
    everything = _audit(api, admin)
    assert len(everything) == len(_entries(app)) == 5  # two registrations, three changes
    assert everything == sorted(everything, key=lambda e: e["created_at"], reverse=True)  # newest first
    assert {e["action"] for e in _audit(api, admin, tenant=a.tenant_id)} == {
        "auth.register", "tenant.update", "domains.add"}
    assert [e["tenant_id"] for e in _audit(api, admin, actor=b.user_id)] == [b.tenant_id] * 2
    assert [e["tenant_id"] for e in _audit(api, admin, action="domains.")] == [b.tenant_id, a.tenant_id]
    assert _audit(api, admin, action="domains.add", tenant=b.tenant_id)[0]["entity_type"] == "domain"
    assert _audit(api, admin, action="domains%") == []  # a prefix, not a pattern

    cut = dt.datetime.fromisoformat(everything[1]["created_at"])  # the second newest
    since = _audit(api, admin, since=cut.isoformat())
    assert [e["id"] for e in since] == [e["id"] for e in everything[:2]]
    until = _audit(api, admin, until=cut.isoformat())
    assert [e["id"] for e in until] == [e["id"] for e in everything[2:]]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert _audit(api, admin, since=future) == []

    resp = api.get(AUDIT, admin, query_string={"page": 2, "page_size": 2})
    assert [e["id"] for e in resp.get_json()] == [e["id"] for e in everything[2:4]]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 5


def test_filter_bad_input(api: Api) -> None:
    admin = api.make_admin()
    for query, pointer in (({"tenant": "nope"}, "/tenant"), ({"since": "yesterday"}, "/since"),
                           ({"until": "2030-01-01T00:00:00"}, "/until")):
        problem = assert_problem(api.get(AUDIT, admin, query_string=query), 422, "validation-error")
        assert [e["pointer"] for e in problem["errors"]] == [pointer]
        assert problem["errors"][0]["location"] == "query"


def test_entry_fields(api: Api) -> None:
    owner = api.register("aud-f")
    admin = api.make_admin()
    entry = _audit(api, admin, tenant=owner.tenant_id)[0]
    assert set(entry) == {"id", "tenant_id", "actor_type", "actor_id", "action", "entity_type",
                          "entity_id", "status", "ip", "user_agent", "request_id", "details",
                          "created_at"}
    actor = (entry["actor_type"], entry["actor_id"])
    assert (entry["action"], actor) == ("auth.register", ("user", owner.user_id))
    assert (entry["status"], entry["entity_type"], entry["entity_id"]) == (201, "tenant", owner.tenant_id)
    # nobody is logged in to reset a password: an anonymous actor
    anonymous = api.post("/api/v1/auth/password/reset", json={"token": "x", "password": "p" * 12})
    assert anonymous.status_code == 400
    assert len(_audit(api, admin, tenant=owner.tenant_id)) == 1
