"""``plugboard_admin_blueprints``: platform admin routes of a plugin under
``/api/v1/admin/<plugin>``, for platform admins only, in the OpenAPI document."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Flask
from flask_smorest import Blueprint

from hookspecs import PluginInfo, hookimpl
from kernel.api import platform_admin_required
from kernel.services import kernel_services
from kernel.tenancy.scope import current_scope
from tests.helpers import Api, assert_problem


class Answer(ma.Schema):
    platform_scope = ma.fields.Boolean()


def _plugin(name: str, prefix: str) -> types.ModuleType:
    blp = Blueprint(f"{name}_admin", __name__, url_prefix=prefix)

    @blp.get("/stats")
    @platform_admin_required
    @blp.response(200, Answer)
    def stats() -> dict[str, Any]:
        scope = current_scope()
        return {"platform_scope": scope is not None and scope.is_platform}

    module = types.ModuleType(f"testplugin_{name}")
    module.plugin_info = PluginInfo(name=name, version="1.0.0")  # type: ignore[attr-defined]
    module.plugboard_admin_blueprints = hookimpl(lambda: [blp])  # type: ignore[attr-defined]
    return module


ADMINISH = _plugin("adminish", "/api/v1/admin/adminish")
WRONG = _plugin("wrongprefix", "/api/v1/admin/tenants")
JOBS = _plugin("jobs", "/api/v1/admin/jobs")


def test_hook_plugboard_admin_blueprints(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(ADMINISH, WRONG, JOBS)
    api = Api(app.test_client(), app)
    owner = api.register("alpha")
    admin = api.make_admin()
    resp = api.get("/api/v1/admin/adminish/stats", admin)
    assert resp.status_code == 200 and resp.get_json() == {"platform_scope": True}
    assert_problem(api.get("/api/v1/admin/adminish/stats", owner), 403, "forbidden")
    assert_problem(api.get("/api/v1/admin/adminish/stats"), 401)
    paths = api.get("/api/openapi.json").get_json()["paths"]
    assert "/api/v1/admin/adminish/stats" in paths
    assert paths["/api/v1/admin/adminish/stats"]["get"]["security"] == [{"bearerAuth": []}]
    registry = kernel_services(app).registry
    failed = {r.name: r.error for r in registry.failures()}
    assert "must serve these routes under '/api/v1/admin/wrongprefix'" in failed["wrongprefix"]
    assert "is the kernel's" in failed["jobs"]  # a plugin cannot shadow /api/v1/admin/jobs
