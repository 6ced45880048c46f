"""The plugin-author harness (plugboard.testing) works for a plugin written outside the kernel."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask

from tests.testplugins.full import plugin as full

pytest_plugins = ["plugboard.testing"]


def test_harness_builds_an_app_and_traces_hooks(
    plugboard_app: Callable[..., Flask], plugboard_client: Callable[[Flask], Any],
    plugboard_hook_calls: Callable[[Flask], list[tuple[str, str, dict[str, Any]]]],
) -> None:
    app = plugboard_app(full)
    calls = plugboard_hook_calls(app)
    client = plugboard_client(app)
    alpha, bravo = client.register("alpha"), client.register("bravo")
    assert client.enable(alpha, "full").status_code == 200
    assert client.call("POST", "/api/v1/full/notes", alpha, json={"text": "hi"}).status_code == 201
    assert client.call("GET", "/api/v1/full/notes", bravo).status_code == 404
    enabled = [c for c in calls if c[0] == "plugboard_tenant_enabled"]
    assert [(c[1], c[2]["tenant_id"]) for c in enabled] == [("full", uuid.UUID(alpha.id))]
