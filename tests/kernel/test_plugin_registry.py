"""Loading plugins: failures are isolated and reported; the registry freezes in create_app."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from hookspecs import PluginInfo
from kernel.cli import main as cli_main
from kernel.registry.manager import Candidate, PluginRegistry, RegistryFrozenError
from kernel.services import kernel_services
from tests.helpers import Api, assert_problem
from tests.testplugins import others
from tests.testplugins.full import plugin as full


def _load(*objs: Any, extra: list[Candidate] | None = None) -> PluginRegistry:
    registry = PluginRegistry()
    registry.load([Candidate(o.plugin_info.name, "app", lambda o=o: o) for o in objs] + (extra or []))
    return registry


def test_a_plugin_that_fails_to_import_is_reported_and_left_out() -> None:
    registry = _load(others.make("fine"), extra=[Candidate("boom", "entry_point", lambda: 1 / 0)])
    assert registry.names() == {"fine"}
    (failed,) = registry.failures()
    assert failed.name == "boom" and "ZeroDivisionError" in (failed.error or "")


@pytest.mark.parametrize(
    ("plugin", "error"),
    [
        (others.Typo(), "plugboard_blueprint"),
        (others.BadArgs(), "nonsense"),
        (others.make("oldkernel", kernel=">=2.0"), "contract"),
        (others.make("needsghost", requires=("ghost>=1",)), "ghost"),
        (others.make("needsnewer", requires=("fine>=2",)), "fine 1.0.0 is installed"),
    ],
)
def test_invalid_plugins_are_left_out_with_a_reason(plugin: Any, error: str) -> None:
    registry = _load(others.make("fine"), plugin)
    assert registry.names() == {"fine"}
    (failed,) = registry.failures()
    assert error in (failed.error or ""), failed.error


def test_bad_manifests_name_the_field() -> None:
    bad = [
        PluginInfo(name="Bad Name", version="1.0"),
        PluginInfo(name="okname", version="not a version"),
        PluginInfo(name="okname", version="1.0", requires=("!!",)),
        PluginInfo(name="okname", version="1.0", permissions={"other.read": "admin"}),
        PluginInfo(name="okname", version="1.0", config_schema={"type": "nonsense"}),
    ]
    for info in bad:
        registry = PluginRegistry()
        registry.load([Candidate("okname", "app", lambda info=info: type("P", (), {"plugin_info": info})())])
        assert registry.names() == frozenset(), info
        assert (registry.failures()[0].error or "").startswith("ManifestError: ")


def test_dependency_cycles_are_rejected_at_load() -> None:
    registry = _load(others.make("alpha", requires=("beta",)), others.make("beta", requires=("alpha",)),
                     others.make("gamma"))
    assert registry.names() == {"gamma"}
    assert all("cycle" in (r.error or "") for r in registry.failures())


def test_allow_and_deny_lists() -> None:
    registry = PluginRegistry(deny=["beta"])
    registry.load([Candidate("alpha", "app", lambda: others.make("alpha")),
                   Candidate("beta", "app", lambda: others.make("beta"))])
    assert registry.names() == {"alpha"} and registry.records["beta"].status == "denied"
    registry = PluginRegistry(allow=["beta"])
    registry.load([Candidate("alpha", "app", lambda: others.make("alpha")),
                   Candidate("beta", "app", lambda: others.make("beta"))])
    assert registry.names() == {"beta"}


def test_registry_is_frozen_after_create_app(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(full)
    with pytest.raises(RegistryFrozenError, match="extra_plugins"):
        kernel_services(app).registry.load([Candidate("late", "app", lambda: others.make("late"))])


def test_broken_plugin_is_reported_while_the_rest_serve(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(full, others.BadPrefix())
    api = Api(app.test_client(), app)
    ready = api.get("/health/ready").get_json()
    assert ready["status"] == "degraded" and "badprefix" in ready["checks"]["plugins"]["detail"]
    admin = api.make_admin()
    listing = {p["name"]: p for p in api.get("/api/v1/admin/plugins", admin).get_json()}
    assert listing["badprefix"]["status"] == "failed" and "/api/v1/badprefix" in listing["badprefix"]["error"]
    assert listing["full"]["status"] == "loaded" and listing["full"]["source"] == "app"
    a = api.register("alpha")
    assert api.put("/api/v1/plugins/full/activation", a, json={"enabled": True}).status_code == 200
    assert api.get("/api/v1/full/notes", a).status_code == 200
    assert_problem(api.put("/api/v1/plugins/badprefix/activation", a, json={"enabled": True}), 404)
    listing = {p["name"]: p for p in api.get("/api/v1/admin/plugins", admin).get_json()}
    assert listing["full"]["tenants_enabled"] == 1


def test_plugins_list_command(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(full, others.Typo())
    result = app.test_cli_runner().invoke(cli_main, args=["plugins", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "1.2.0" in lines["full"] and "loaded" in lines["full"]
    assert "failed" in lines["typo"]


def test_default_enabled_plugins_are_on_for_new_tenants(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(others.make("welcome", default_enabled=True), full)
    api = Api(app.test_client(), app)
    a = api.register("alpha")
    catalogue = {p["name"]: p["enabled"] for p in api.get("/api/v1/plugins", a).get_json()}
    assert catalogue == {"welcome": True, "full": False}
    with app.app_context():
        assert kernel_services(app).activations.is_enabled(uuid.UUID(a.tenant_id), "welcome")
