"""A pytest plugin for plugin authors: ``pytest_plugins = ["plugboard.testing"]``.

Fixtures:

* ``plugboard_app(*plugins, **config)``: a Plugboard app with your plugin(s) on a
  fresh, migrated SQLite database in a temp folder (pass ``database_url=`` for another
  database: it must be an empty, throw-away one, as it is migrated in place);
* ``plugboard_client(app)``: an in-process client that can ``register`` a tenant,
  ``enable`` a plugin for it and call routes as that tenant;
* ``plugboard_hook_calls(app)``: a list that records every hook call
  (``(hook, plugin, kwargs)``), also printed when ``PLUGBOARD_TRACE_HOOKS=1``.

.. versionadded:: 0.1
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from kernel import create_app
from kernel.data import migrate
from kernel.services import kernel_services

PASSWORD = "plugin-author-password"  # noqa: S105 - a throw-away test account


@dataclass
class Tenant:
    slug: str
    id: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class PlugboardClient:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.http = app.test_client()

    def register(self, slug: str | None = None) -> Tenant:
        slug = slug or f"t-{uuid.uuid4().hex[:8]}"
        resp = self.http.post("/api/v1/auth/register", json={
            "email": f"owner@{slug}.example.com", "password": PASSWORD, "name": slug,
            "tenant_name": slug, "tenant_slug": slug})
        assert resp.status_code == 201, resp.get_json()
        body = resp.get_json()
        return Tenant(slug, body["tenant"]["id"], body["access_token"])

    def enable(self, tenant: Tenant, plugin: str, enabled: bool = True) -> TestResponse:
        return self.call("PUT", f"/api/v1/plugins/{plugin}/activation", tenant,
                         json={"enabled": enabled, "with_dependencies": True})

    def call(self, method: str, path: str, tenant: Tenant | None = None, **kwargs: Any) -> TestResponse:
        headers = {**(tenant.headers if tenant else {}), **kwargs.pop("headers", {})}
        return self.http.open(path, method=method, headers=headers, **kwargs)


@pytest.fixture
def plugboard_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def factory(*plugins: Any, **config: Any) -> Flask:
        settings: dict[str, Any] = {
            "env": "test", "data_dir": str(tmp_path / f"app{len(apps)}"),
            "secret_key": "plugboard-testing-" + "k" * 32, "password_time_cost": 1,
            "password_memory_cost": 1024, "password_parallelism": 1,
            "extra_plugins": list(plugins), "load_builtin_plugins": False, "load_entry_points": False,
        }
        settings.update(config)
        app = create_app(settings)
        with app.app_context():
            migrate.upgrade(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        kernel_services(app).engine.dispose()


@pytest.fixture
def plugboard_client() -> Callable[[Flask], PlugboardClient]:
    return PlugboardClient


@pytest.fixture
def plugboard_hook_calls() -> Callable[[Flask], list[tuple[str, str, dict[str, Any]]]]:
    def trace(app: Flask) -> list[tuple[str, str, dict[str, Any]]]:
        calls: list[tuple[str, str, dict[str, Any]]] = []
        verbose = os.environ.get("PLUGBOARD_TRACE_HOOKS") == "1"

        def before(hook_name: str, impls: list[Any], kwargs: dict[str, Any]) -> None:
            for impl in impls:
                calls.append((hook_name, impl.plugin_name, dict(kwargs)))
                if verbose:
                    print(f"hook {hook_name} -> {impl.plugin_name} {sorted(kwargs)}")

        def after(outcome: Any, hook_name: str, impls: list[Any], kwargs: dict[str, Any]) -> None:
            return None

        kernel_services(app).registry.pm.add_hookcall_monitoring(before, after)
        return calls

    return trace
