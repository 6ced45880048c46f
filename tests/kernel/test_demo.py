"""``plugboard demo``: a first run shows every built-in plugin, switched on, with its data."""

from __future__ import annotations

from flask import Flask

from kernel.services import kernel_services
from kernel.tenancy.demo import seed_demo
from tests.helpers import Api


def test_the_demo_tenant_has_every_builtin_plugin_on(app: Flask, api: Api) -> None:
    for _ in range(2):  # `make run` seeds on every start: the second run changes nothing
        with app.app_context():
            seed_demo("demo@example.com", "demo password 123")
    tokens = api.login("demo@example.com", "demo password 123")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    catalogue = {p["name"]: p["enabled"] for p in api.get("/api/v1/plugins", headers=headers).get_json()}
    builtins = {r.name for r in kernel_services(app).registry.loaded() if r.source == "builtin"}
    assert builtins >= {"pages", "payments", "comms", "ticketing", "billing"}
    assert all(catalogue[name] for name in builtins), catalogue
    events = api.get("/api/v1/public/ticketing/events", headers={"X-Tenant": "demo"}).get_json()
    assert events, "the storefront shows the demo events at once"
