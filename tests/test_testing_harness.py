"""The plugin-author harness (plugboard.testing) works for a plugin written outside the kernel.

Its fixtures come from the ``pytest11`` entry point (no ``pytest_plugins`` needed); its
gates, run on one plugin, catch a leaky route and a route that raises.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from flask import Flask

from plugboard.testing import (
    FROZEN_AT,
    PlugboardClient,
    assert_problem,
    findings_of,
    fuzz_plugin,
    isolation_sweep,
)
from tests.quality import brokenplugin
from tests.testplugins.full import plugin as full

AppFactory = Callable[..., Flask]
ClientFactory = Callable[[Flask], PlugboardClient]


def test_the_harness_is_a_registered_pytest_plugin() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("plugboard.testing") == "plugboard.testing"


def test_harness_builds_an_app_and_traces_hooks(
    plugboard_app: AppFactory, plugboard_client: ClientFactory,
    plugboard_hook_calls: Callable[[Flask], list[tuple[str, str, dict[str, Any]]]],
) -> None:
    app = plugboard_app(full)
    calls = plugboard_hook_calls(app)
    client = plugboard_client(app)
    alpha, bravo = client.register("alpha"), client.register("bravo")
    client.enable(alpha, "full")
    assert client.call("POST", "/api/v1/full/notes", alpha, json={"text": "hi"}).status_code == 201
    assert_problem(client.get("/api/v1/full/notes", bravo), 404, "plugin-not-enabled")
    enabled = [c for c in calls if c[0] == "plugboard_tenant_enabled"]
    assert [(c[1], c[2]["tenant_id"]) for c in enabled] == [("full", uuid.UUID(alpha.tenant_id))]


def test_admin_customer_and_frozen_clock(plugboard_app: AppFactory, plugboard_client: ClientFactory,
                                         plugboard_clock: Any) -> None:
    client = plugboard_client(plugboard_app(full))
    tenant = client.register()
    admin = client.admin()
    listed = client.get("/api/v1/admin/plugins", admin)
    assert listed.status_code == 200 and "full" in {p["name"] for p in listed.get_json()}
    assert_problem(client.get("/api/v1/admin/plugins", tenant), 403)
    customer = client.customer(tenant, "buyer@example.com")
    me = client.get("/api/v1/public/account/me", headers=customer.headers)
    assert me.status_code == 200 and me.get_json()["email"] == "buyer@example.com"
    assert_problem(client.get("/api/v1/tenant", headers=customer.headers), 401)
    staff_view = client.get("/api/v1/customers", tenant).get_json()
    assert [c["id"] for c in staff_view] == [customer.customer_id]
    assert dt.datetime.now(dt.UTC) == FROZEN_AT
    plugboard_clock.shift(dt.timedelta(days=2))
    assert dt.datetime.now(dt.UTC) == FROZEN_AT + dt.timedelta(days=2)


def test_the_sweep_catches_a_leaky_plugin_route(plugboard_app: AppFactory) -> None:
    result = isolation_sweep(plugboard_app(brokenplugin), plugin="broken")
    item = "/api/v1/broken/things/{thing_id}"
    assert {op for op, _ in findings_of(result, "isolation")} == {f"GET {item}", f"DELETE {item}"}
    assert all(op.startswith(("GET /api/v1/broken", "DELETE /api/v1/broken")) for op in result.operations)
    try:
        result.assert_clean()
    except AssertionError as exc:
        assert "problem(s) in plugin 'broken'" in str(exc) and item in str(exc)
    else:
        raise AssertionError("assert_clean passed a leaky plugin")


def test_the_fuzz_helper_catches_a_route_that_raises(plugboard_app: AppFactory) -> None:
    result = fuzz_plugin(plugboard_app(brokenplugin), plugin="broken", examples=5)
    assert all("/api/v1/broken/" in op for op in result.operations)
    assert ("GET /api/v1/broken/boom", "not_a_server_error") in findings_of(result)
    assert ("GET /api/v1/broken/shape", "response_schema_conformance") in findings_of(result)
    correct = {"GET /api/v1/broken/things", "POST /api/v1/broken/things"}
    assert not {op for op, _ in findings_of(result)} & correct


def test_a_clean_plugin_passes_both_gates(plugboard_app: AppFactory) -> None:
    app = plugboard_app(full)
    fuzzed = fuzz_plugin(app, plugin="full", examples=5)
    assert "POST /api/v1/full/notes" in fuzzed.operations
    fuzzed.assert_clean()
    isolation_sweep(app, plugin="full").assert_clean()


def test_a_gate_that_checked_nothing_fails(plugboard_app: AppFactory) -> None:
    result = isolation_sweep(plugboard_app(full), plugin="nosuchplugin")
    try:
        result.assert_clean()
    except AssertionError as exc:
        assert "no operation of plugin 'nosuchplugin'" in str(exc)
    else:
        raise AssertionError("a gate over no operation passed")
