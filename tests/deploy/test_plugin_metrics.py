"""Per-plugin metrics in one process: requests and latency labelled with the plugin whose
route answered, and hook calls that raised counted per plugin and hook."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.deploy.test_gunicorn_metrics import _sample
from tests.helpers import Api
from tests.testplugins import others
from tests.testplugins.full import plugin as full


def test_requests_and_hook_errors_per_plugin(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(full, others.Noisy())
    api = Api(app.test_client(), app)
    a = api.register("metrics-plugins")
    assert api.put("/api/v1/plugins/full/activation", a, json={"enabled": True}).status_code == 200
    api.post("/api/v1/full/notes", a, json={"text": "hello"})
    api.get("/api/v1/full/notes", a)
    api.get("/api/v1/full/notes")  # 401, still the plugin's route
    text = api.get("/metrics").get_data(as_text=True)
    assert _sample(text, "plugboard_http_requests_total", method="GET", endpoint="/api/v1/full/notes",
                   status="200", plugin="full") == 1
    assert _sample(text, "plugboard_http_requests_total", method="GET", endpoint="/api/v1/full/notes",
                   status="401", plugin="full") == 1
    assert _sample(text, "plugboard_http_request_duration_seconds_count", method="POST",
                   endpoint="/api/v1/full/notes", plugin="full") == 1
    assert _sample(text, "plugboard_http_requests_total", method="PUT",
                   endpoint="/api/v1/plugins/<string:name>/activation", status="200", plugin="kernel") == 1
    assert _sample(text, "plugboard_plugin_hook_errors_total", plugin="noisy",
                   hook="plugboard_activation_changed") == 0

    # noisy raises when told of an activation change; the change itself succeeds
    admin = api.make_admin()
    resp = api.put(f"/api/v1/admin/tenants/{a.tenant_id}/plugins/noisy", admin, json={"enabled": True})
    assert resp.status_code == 200, resp.get_json()
    api.put("/api/v1/plugins/full/activation", a, json={"enabled": False})
    text = api.get("/metrics").get_data(as_text=True)
    assert _sample(text, "plugboard_plugin_hook_errors_total", plugin="noisy",
                   hook="plugboard_activation_changed") >= 1
    assert _sample(text, "plugboard_plugin_hook_errors_total", plugin="full",
                   hook="plugboard_activation_changed") == 0
