"""Installing loaded plugins into the app: routes (gated per tenant), permissions, jobs, events.

Every plugin's registrations are collected and validated first
(:mod:`kernel.registry.registrations`); a plugin that fails is left out together with the
plugins that need it, then the rest is installed. Every plugin blueprint gets its gate
(:mod:`kernel.registry.gates`), so plugin code never checks activation itself.
"""

from __future__ import annotations

from flask import Flask, Request

from kernel.registry.gates import GATES, Gate
from kernel.registry.manager import PluginRegistry
from kernel.registry.registrations import Registration, check_names, collect
from kernel.request_hooks import Globals, request_hooks
from kernel.services import KernelServices


def install(app: Flask, services: KernelServices) -> dict[str, Registration]:
    """Install every loaded plugin's registrations; returns them by plugin name."""
    registry = services.registry
    collected: dict[str, Registration] = {}
    failed: dict[str, str] = {}
    taken: set[str] = set()
    for record in registry.loaded():
        try:
            found = collect(app, registry, record)
            check_names(app, found, taken)
            collected[record.name] = found
        except Exception as exc:
            failed[record.name] = f"registration failed: {type(exc).__name__}: {exc}"
    registry.leave_out(failed)  # a dropped plugin drops its dependents too
    installed = {record.name: collected[record.name] for record in registry.loaded()}
    gates: dict[str, Gate] = {}
    for found in installed.values():
        _install_one(services, found, gates)
    services.guard_plugins = registry.implementers("plugboard_request_guard")

    # One app-level hook rather than one per blueprint: blueprints are module globals that
    # may be registered on many apps, and Flask forbids changing them after registration.
    @request_hooks(app).before
    def _gate_plugin_routes(req: Request, _g: Globals) -> None:
        gate = gates.get(req.blueprint or "")
        if gate is not None:
            gate()

    return installed


def _install_one(services: KernelServices, found: Registration, gates: dict[str, Gate]) -> None:
    for gated in found.blueprints:
        services.api.register_gated_blueprint(gated.blueprint)
        gates[gated.blueprint.name] = GATES[gated.hook](found.plugin)
        services.blueprint_plugins[gated.blueprint.name] = found.plugin
    for perm, role in found.permissions.items():
        services.permissions.register(perm, role)
    for job in found.jobs:
        services.job_specs[job.name] = (found.plugin, job)
    for handler in found.events:
        services.event_handlers.setdefault(handler.event, []).append((found.plugin, handler))
    services.page_components.extend(found.components)
    if found.migrations:
        services.migration_dirs.append(found.migrations)


def app_ready(app: Flask, registry: PluginRegistry) -> None:
    """Call ``plugboard_app_ready`` once per loaded plugin; a plugin that raises is left out.

    Its routes stay registered (Flask cannot take them back) but answer 404
    ``plugin-not-enabled``, like those of any plugin that is not loaded.
    """
    failed = registry.notify(registry.names(), "plugboard_app_ready", app=app)
    registry.leave_out({name: f"plugboard_app_ready failed: {type(exc).__name__}: {exc}"
                        for name, exc in failed.items()})
