"""Every hook of the contract, through the ``full`` test plugin: one ``test_hook_<name>`` each.

Tenant A enables ``full``; tenant B does not, and must never see its routes or hooks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from hookspecs import hookimpl
from kernel.services import kernel_services
from tests.helpers import Account, Api, assert_problem
from tests.testplugins import others
from tests.testplugins.full import plugin as full

NEEDS_FULL = others.make("needsfull", requires=("full>=1.0",))


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> dict[str, Any]:
    app = plugin_app(full, NEEDS_FULL, others.Noisy())
    api = Api(app.test_client(), app)
    a, b = api.register("alpha"), api.register("bravo")
    full.CALLS.clear()
    resp = api.put("/api/v1/plugins/full/activation", a, json={"enabled": True})
    assert resp.status_code == 200, resp.get_json()
    return {"app": app, "api": api, "a": a, "b": b}


def calls(kind: str) -> list[dict[str, Any]]:
    return [c for k, c in full.CALLS if k == kind]


def enabled_of(app: Flask, account: Account) -> frozenset[str]:
    with app.app_context():
        return kernel_services(app).activations.snapshot.enabled(uuid.UUID(account.tenant_id))


def test_hook_plugboard_blueprints(world: dict[str, Any]) -> None:
    api, a, b = world["api"], world["a"], world["b"]
    resp = api.post("/api/v1/full/notes", a, json={"text": "hello"})
    assert resp.status_code == 201, resp.get_json()
    assert [n["text"] for n in api.get("/api/v1/full/notes", a).get_json()] == ["hello"]
    for method, path in (("GET", "/api/v1/full/notes"), ("POST", "/api/v1/full/notes")):
        resp = api.call(method, path, b, json={"text": "x"})
        assert_problem(resp, 404, "plugin-not-enabled")
    assert_problem(api.get("/api/v1/full/notes"), 401)
    spec = world["app"].test_client().get("/api/openapi.json").get_json()
    assert "/api/v1/full/notes" in spec["paths"]


def test_hook_plugboard_admin_blueprints(world: dict[str, Any]) -> None:
    api, a, b = world["api"], world["a"], world["b"]
    assert api.post("/api/v1/full/notes", a, json={"text": "from alpha"}).status_code == 201
    admin = api.make_admin()
    resp = api.post("/api/v1/admin/full/notes", admin, json={"tenant_id": b.tenant_id, "text": "for bravo"})
    assert resp.status_code == 201, resp.get_json()
    listed = api.get("/api/v1/admin/full/notes", admin).get_json()
    assert {(n["text"], n["tenant_id"]) for n in listed} == {
        ("from alpha", a.tenant_id), ("for bravo", b.tenant_id)}
    # tenants, even owners, are refused; so is nobody
    for account in (a, b):
        assert_problem(api.get("/api/v1/admin/full/notes", account), 403)
        assert_problem(api.post("/api/v1/admin/full/notes", account,
                                json={"tenant_id": a.tenant_id, "text": "x"}), 403)
    assert_problem(api.get("/api/v1/admin/full/notes"), 401)
    spec = world["app"].test_client().get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/admin/full/notes"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert "platform admin" in operation["description"].lower()


def test_admin_blueprints_outside_their_prefix_leave_the_plugin_out(
        plugin_app: Callable[..., Flask]) -> None:
    from flask_smorest import Blueprint

    class Sneaky:
        plugin_info = others.make("sneaky").plugin_info

        @hookimpl
        def plugboard_admin_blueprints(self) -> list[Blueprint]:
            return [Blueprint("sneaky_admin", __name__, url_prefix="/api/v1/admin/tenants")]

    app = plugin_app(Sneaky())
    record = kernel_services(app).registry.records["sneaky"]
    assert record.status == "failed" and "/api/v1/admin/sneaky" in (record.error or "")


def test_hook_plugboard_public_blueprints(world: dict[str, Any]) -> None:
    api = world["api"]
    resp = api.get("/api/v1/public/full/hello", headers={"X-Tenant": "alpha"})
    assert resp.status_code == 200 and resp.get_json() == {"tenant": "alpha"}
    resp = api.get("/api/v1/public/full/hello", headers={"Host": "alpha.localhost"})
    assert resp.get_json() == {"tenant": "alpha"}
    assert_problem(api.get("/api/v1/public/full/hello", headers={"X-Tenant": "bravo"}), 404,
                   "plugin-not-enabled")
    assert_problem(api.get("/api/v1/public/full/hello", headers={"X-Tenant": "nobody"}), 404,
                   "unknown-tenant")


def test_hook_plugboard_webhook_blueprints(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    api.post("/api/v1/full/notes", a, json={"text": "n1"})
    assert api.post("/api/v1/webhooks/full/alpha/ping").get_json() == {"notes": 1}
    assert_problem(api.post("/api/v1/webhooks/full/bravo/ping"), 404, "plugin-not-enabled")


def test_hook_plugboard_jobs(world: dict[str, Any]) -> None:
    plugin, job = kernel_services(world["app"]).job_specs["full.cleanup"]
    assert plugin == "full" and job.cron == "0 3 * * *" and job.retry == 2


def test_hook_plugboard_event_handlers(world: dict[str, Any]) -> None:
    handlers = kernel_services(world["app"]).event_handlers["payments.payment.succeeded"]
    assert [(p, h.name) for p, h in handlers] == [("full", "full.on_payment")]


def test_hook_plugboard_permissions(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    analyst = api.add_member(a, "ana@alpha.example.com", "analyst")
    manager = api.add_member(a, "max@alpha.example.com", "manager")
    assert_problem(api.post("/api/v1/full/notes", analyst, json={"text": "no"}), 403)
    assert api.post("/api/v1/full/notes", manager, json={"text": "yes"}).status_code == 201
    me = api.get("/api/v1/auth/me", manager).get_json()
    assert "full.write" in me["permissions"] and "full.admin" not in me["permissions"]


def test_hook_plugboard_page_components(world: dict[str, Any]) -> None:
    components = kernel_services(world["app"]).page_components
    assert {"type": "FullNoteList", "title": "Notes", "plugin": "full"} in components


def test_hook_plugboard_app_ready(plugin_app: Callable[..., Flask]) -> None:
    full.CALLS.clear()
    app = plugin_app(full, others.NotReady())
    ready = [c for c in calls("app_ready") if c["app"] is app]
    assert ready == [{"app": app, "routes": True, "job": True}]  # once, after installing
    record = kernel_services(app).registry.records["notready"]
    assert record.status == "failed"
    assert "plugboard_app_ready failed: RuntimeError: cache server unreachable" in (record.error or "")
    api = Api(app.test_client(), app)
    a = api.register("alpha")
    assert_problem(api.put("/api/v1/plugins/notready/activation", a, json={"enabled": True}), 404)
    assert_problem(api.get("/api/v1/notready/ping", a), 404, "plugin-not-enabled")


def test_hook_plugboard_tenant_enabled(world: dict[str, Any]) -> None:
    (call,) = calls("enabled")
    assert call["tenant_id"] == uuid.UUID(world["a"].tenant_id)
    assert enabled_of(world["app"], world["a"]) == {"full"}
    assert enabled_of(world["app"], world["b"]) == frozenset()


def test_hook_plugboard_tenant_disabled(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    api.put("/api/v1/plugins/full/config", a, json={"refuse_disable": True})
    body = assert_problem(api.put("/api/v1/plugins/full/activation", a, json={"enabled": False}), 409)
    assert "exported" in body["detail"]
    assert enabled_of(world["app"], a) == {"full"}
    api.put("/api/v1/plugins/full/config", a, json={})
    assert api.put("/api/v1/plugins/full/activation", a, json={"enabled": False}).status_code == 200
    assert [c["tenant_id"] for c in calls("disabled")] == [uuid.UUID(a.tenant_id)]
    assert_problem(api.get("/api/v1/full/notes", a), 404, "plugin-not-enabled")


def test_hook_plugboard_config_validate(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    body = assert_problem(api.put("/api/v1/plugins/full/config", a, json={"greeting": "forbidden!"}), 422)
    assert body["errors"][0]["pointer"] == "/greeting"
    body = assert_problem(api.put("/api/v1/plugins/full/config", a, json={"limit": 0, "x": 1}), 422)
    assert {e["pointer"] for e in body["errors"]} >= {"/limit"}
    assert api.get("/api/v1/plugins/full/config", a).get_json() == {}


def test_hook_plugboard_config_changed(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    api.put("/api/v1/plugins/full/config", a, json={"greeting": "hi"})
    api.put("/api/v1/plugins/full/config", a, json={"greeting": "hello"})
    changes = calls("config_changed")
    assert [(c["old"], c["new"]) for c in changes] == [({}, {"greeting": "hi"}),
                                                       ({"greeting": "hi"}, {"greeting": "hello"})]


def test_hook_plugboard_activation_changed(world: dict[str, Any]) -> None:
    """``noisy`` raises in this notification; ``full`` still hears it and the call succeeds."""
    api, a = world["api"], world["a"]
    admin = api.make_admin()
    resp = api.put(f"/api/v1/admin/tenants/{a.tenant_id}/plugins/noisy", admin, json={"enabled": True})
    assert resp.status_code == 200, resp.get_json()
    resp = api.put("/api/v1/plugins/needsfull/activation", a, json={"enabled": True})
    assert resp.status_code == 200, resp.get_json()
    assert {"plugin": "needsfull", "enabled": True} in calls("activation_changed")


def test_hook_plugboard_request_guard(world: dict[str, Any]) -> None:
    api, a, b = world["api"], world["a"], world["b"]
    api.put("/api/v1/plugins/full/config", a, json={"suspended": True})
    assert_problem(api.get("/api/v1/full/notes", a), 402, "payment-required")
    assert_problem(api.get("/api/v1/tenant", a), 402, "payment-required")
    assert api.get("/api/v1/plugins/full/config", a).status_code == 200  # may still fix it
    assert api.get("/api/v1/tenant", b).status_code == 200  # guard is A's plugin only


def test_hook_plugboard_resolve_payable(world: dict[str, Any]) -> None:
    app, a, b = world["app"], world["a"], world["b"]
    with app.app_context():
        registry = kernel_services(app).registry
        hook_a = registry.hook_for(enabled_of(app, a), "plugboard_resolve_payable")
        hook_b = registry.hook_for(enabled_of(app, b), "plugboard_resolve_payable")
        assert hook_a(tenant_id=uuid.UUID(a.tenant_id), kind="note", ref="7")["amount"] == 1500
        assert hook_b(tenant_id=uuid.UUID(b.tenant_id), kind="note", ref="7") is None


def test_hook_plugboard_component_data(world: dict[str, Any]) -> None:
    app, api, a = world["app"], world["api"], world["a"]
    api.post("/api/v1/full/notes", a, json={"text": "n"})
    from kernel.tenancy.scope import tenant_scope

    with app.app_context(), tenant_scope(uuid.UUID(a.tenant_id)):
        hook = kernel_services(app).registry.hook_for(enabled_of(app, a), "plugboard_component_data")
        assert hook(tenant_id=uuid.UUID(a.tenant_id), component_type="FullNoteList", props={}) == {
            "notes": ["n"]}
        assert hook(tenant_id=uuid.UUID(a.tenant_id), component_type="Other", props={}) is None
