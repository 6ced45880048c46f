"""Activation and configuration through the tenant and admin APIs."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.session import db
from kernel.registry.activation import PluginActivation
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope
from tests.helpers import Api, assert_problem
from tests.testplugins import others
from tests.testplugins.full import plugin as full

NEEDS_FULL = others.make("needsfull", requires=("full>=1.0",))
RESTRICTED = others.make("vip", restricted=True)
SECRET = "s3cr3t-value-never-shown"


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> dict[str, Any]:
    app = plugin_app(full, NEEDS_FULL, RESTRICTED)
    api = Api(app.test_client(), app)
    return {"app": app, "api": api, "a": api.register("alpha"), "b": api.register("bravo")}


def rows(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context(), platform_scope():
        return [(r.tenant_id, r.plugin, r.enabled, json.dumps(r.config, sort_keys=True))
                for r in db.session.scalars(sa.select(PluginActivation).order_by(PluginActivation.plugin))]


def test_catalogue_and_detail(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    catalogue = {p["name"]: p for p in api.get("/api/v1/plugins", a).get_json()}
    assert set(catalogue) == {"full", "needsfull", "vip"}
    assert catalogue["needsfull"]["requires"] == ["full>=1.0"] and catalogue["vip"]["restricted"]
    detail = api.get("/api/v1/plugins/full", a).get_json()
    assert detail["config_schema"]["properties"]["api_secret"]["writeOnly"] is True
    assert_problem(api.get("/api/v1/plugins/nope", a), 404, "plugin-not-found")


def test_missing_dependency_is_409_naming_it_and_changes_nothing(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    before = rows(world["app"])
    body = assert_problem(api.put("/api/v1/plugins/needsfull/activation", a, json={"enabled": True}),
                          409, "plugin-dependency-missing")
    assert body["missing"] == ["full"] and "full" in body["detail"]
    assert rows(world["app"]) == before


def test_with_dependencies_enables_requirements_too(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    resp = api.put("/api/v1/plugins/needsfull/activation", a,
                   json={"enabled": True, "with_dependencies": True})
    assert resp.status_code == 200 and resp.get_json()["changed"] == ["full", "needsfull"]
    assert api.get("/api/v1/full/notes", a).status_code == 200


def test_disabling_a_required_plugin_is_409_naming_the_dependent(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    api.put("/api/v1/plugins/needsfull/activation", a, json={"enabled": True, "with_dependencies": True})
    before = rows(world["app"])
    body = assert_problem(api.put("/api/v1/plugins/full/activation", a, json={"enabled": False}),
                          409, "plugin-required")
    assert body["dependents"] == ["needsfull"]
    assert rows(world["app"]) == before
    assert api.put("/api/v1/plugins/needsfull/activation", a, json={"enabled": False}).status_code == 200
    assert api.put("/api/v1/plugins/full/activation", a, json={"enabled": False}).status_code == 200


def test_restricted_plugin_is_403_for_tenants_but_admins_may_enable(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    assert_problem(api.put("/api/v1/plugins/vip/activation", a, json={"enabled": True}), 403,
                   "plugin-restricted")
    admin = api.make_admin()
    resp = api.put(f"/api/v1/admin/tenants/{a.tenant_id}/plugins/vip", admin, json={"enabled": True})
    assert resp.status_code == 200 and resp.get_json()["enabled"] is True
    states = {p["name"]: p["enabled"] for p in
              api.get(f"/api/v1/admin/tenants/{a.tenant_id}/plugins", admin).get_json()}
    assert states == {"full": False, "needsfull": False, "vip": True}
    assert_problem(api.put(f"/api/v1/admin/tenants/{a.tenant_id}/plugins/vip", a, json={"enabled": False}),
                   403)


def test_restricted_plugin_cannot_be_switched_off_by_the_tenant(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    admin = api.make_admin()
    assert api.put(f"/api/v1/admin/tenants/{a.tenant_id}/plugins/vip", admin,
                   json={"enabled": True}).status_code == 200
    problem = assert_problem(api.put("/api/v1/plugins/vip/activation", a, json={"enabled": False}),
                             403, "plugin-restricted")
    assert "disable" in problem["detail"]
    assert {p["name"]: p["enabled"] for p in api.get("/api/v1/plugins", a).get_json()}["vip"] is True
    resp = api.put(f"/api/v1/admin/tenants/{a.tenant_id}/plugins/vip", admin, json={"enabled": False})
    assert resp.status_code == 200 and resp.get_json()["enabled"] is False


def test_analyst_cannot_change_plugins(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    analyst = api.add_member(a, "ana@alpha.example.com", "analyst")
    assert api.get("/api/v1/plugins", analyst).status_code == 200
    assert_problem(api.put("/api/v1/plugins/full/activation", analyst, json={"enabled": True}), 403)
    assert_problem(api.put("/api/v1/plugins/full/config", analyst, json={"greeting": "x"}), 403)


@pytest.mark.parametrize("body", [{}, {"enabled": "yes"}, {"enabled": True, "extra": 1}, [1]])
def test_bad_activation_bodies_are_422(world: dict[str, Any], body: Any) -> None:
    before = rows(world["app"])
    assert_problem(world["api"].put("/api/v1/plugins/full/activation", world["a"], json=body), 422)
    assert rows(world["app"]) == before


def test_config_is_validated_with_json_pointers(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    body = assert_problem(api.put("/api/v1/plugins/full/config", a,
                                  json={"limit": "ten", "greeting": "x" * 60, "unknown": 1}),
                          422, "plugin-config-invalid")
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/limit", "/greeting"} <= pointers
    assert rows(world["app"]) == []


def test_secrets_are_encrypted_masked_and_never_logged(
    world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    api, a, app = world["api"], world["a"], world["app"]
    caplog.set_level(logging.DEBUG)
    resp = api.put("/api/v1/plugins/full/config", a, json={"greeting": "hi", "api_secret": SECRET})
    assert resp.status_code == 200 and resp.get_json() == {"greeting": "hi", "api_secret": "********"}
    responses = [
        api.get("/api/v1/plugins/full/config", a), api.get("/api/v1/plugins/full", a),
        api.get(f"/api/v1/admin/tenants/{a.tenant_id}/plugins", api.make_admin()),
    ]
    for r in responses:
        assert SECRET not in r.get_data(as_text=True)
    stored = rows(app)[0][3]
    assert SECRET not in stored and "$sealed" in stored
    # a masked value sent back keeps the stored secret
    api.put("/api/v1/plugins/full/config", a, json={"greeting": "hey", "api_secret": "********"})
    with app.app_context():
        plain = kernel_services(app).activations.config_of(uuid.UUID(a.tenant_id), "full")
    assert plain == {"greeting": "hey", "api_secret": SECRET}
    with app.app_context():
        audit = app.test_client().get("/api/v1/admin/audit-log")
    assert audit.status_code == 401
    for record in caplog.records:
        assert SECRET not in record.getMessage() and SECRET not in json.dumps(record.__dict__, default=str)


def test_tenants_are_independent(world: dict[str, Any]) -> None:
    api, a, b = world["api"], world["a"], world["b"]
    api.put("/api/v1/plugins/full/activation", a, json={"enabled": True})
    api.put("/api/v1/plugins/full/config", a, json={"greeting": "alpha only"})
    assert api.get("/api/v1/plugins/full/config", b).get_json() == {}
    assert {p["name"]: p["enabled"] for p in api.get("/api/v1/plugins", b).get_json()}["full"] is False
    api.put("/api/v1/plugins/full/activation", a, json={"enabled": False})
    api.put("/api/v1/plugins/full/activation", b, json={"enabled": True})
    assert_problem(api.get("/api/v1/full/notes", a), 404, "plugin-not-enabled")
    assert api.get("/api/v1/full/notes", b).status_code == 200


def test_activation_changes_are_audited(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    api.put("/api/v1/plugins/full/activation", a, json={"enabled": True})
    api.put("/api/v1/plugins/full/config", a, json={"greeting": "hi", "api_secret": SECRET})
    log = api.get(f"/api/v1/admin/audit-log?tenant={a.tenant_id}&action=plugins.", api.make_admin())
    entries = log.get_json()
    assert {e["action"] for e in entries} == {"plugins.enable", "plugins.config"}
    assert all(e["entity_id"] == "full" and e["actor_id"] == a.user_id for e in entries)
    assert SECRET not in log.get_data(as_text=True)
