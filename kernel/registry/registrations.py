"""Collecting what one plugin registers, validated before anything is installed.

:func:`collect` calls a plugin's registration hooks and returns a typed
:class:`Registration`, or raises ``ValueError`` naming the hook and what to fix;
:mod:`kernel.registry.install` installs the registrations of the plugins that passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask

from hookspecs import EventHandler, JobSpec
from kernel.identity.rbac import check_role
from kernel.registry.manager import PluginRecord, PluginRegistry

#: blueprint hook -> the URL prefix its blueprints must live under
PREFIXES = {
    "plugboard_blueprints": "/api/v1/{name}",
    "plugboard_public_blueprints": "/api/v1/public/{name}",
    "plugboard_webhook_blueprints": "/api/v1/webhooks/{name}",
    "plugboard_admin_blueprints": "/api/v1/admin/{name}",
}
#: segments of the kernel's own /api/v1/admin routes: no plugin's admin routes there
KERNEL_ADMIN_SEGMENTS = frozenset({"tenants", "plugins", "audit-log", "jobs"})


@dataclass(frozen=True)
class GatedBlueprint:
    """A plugin blueprint and the hook that returned it (which says how it is gated)."""

    hook: str
    blueprint: Blueprint


@dataclass
class Registration:
    """Everything one plugin registers."""

    plugin: str
    blueprints: list[GatedBlueprint] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)
    events: list[EventHandler] = field(default_factory=list)
    #: permission -> lowest role holding it
    permissions: dict[str, str] = field(default_factory=dict)
    #: page-editor components, each with ``"plugin"`` added
    components: list[dict[str, Any]] = field(default_factory=list)
    migrations: str | None = None

    def public_blueprint_names(self) -> set[str]:
        return {b.blueprint.name for b in self.blueprints if b.hook == "plugboard_public_blueprints"}


def collect(app: Flask, registry: PluginRegistry, record: PluginRecord) -> Registration:
    """Call ``record``'s registration hooks; ``ValueError`` says which one returned what."""
    name = record.name
    found = Registration(name, blueprints=_blueprints(app, registry, name))
    found.jobs = [j for group in registry.call_plugin(name, "plugboard_jobs") for j in group or ()]
    for job in found.jobs:
        if not isinstance(job, JobSpec) or not job.name.startswith(name + "."):
            raise ValueError(f"plugboard_jobs: {job!r} must be a JobSpec named '{name}.<job>'")
    found.events = [
        e for group in registry.call_plugin(name, "plugboard_event_handlers") for e in group or ()
    ]
    for handler in found.events:
        if not isinstance(handler, EventHandler):
            raise ValueError(f"plugboard_event_handlers: {handler!r} is not an EventHandler")
    found.permissions = _permissions(registry, record)
    found.components = [
        dict(c, plugin=name)
        for group in registry.call_plugin(name, "plugboard_page_components") for c in group or ()
    ]
    if record.info and record.info.migrations:
        if not Path(record.info.migrations).is_dir():
            raise ValueError(f"PluginInfo.migrations {record.info.migrations!r} is not a folder")
        found.migrations = record.info.migrations
    return found


def _blueprints(app: Flask, registry: PluginRegistry, name: str) -> list[GatedBlueprint]:
    out: list[GatedBlueprint] = []
    for hook, prefix_tpl in PREFIXES.items():
        prefix = prefix_tpl.format(name=name)
        groups = registry.call_plugin(name, hook, app=app)
        if hook == "plugboard_admin_blueprints" and name in KERNEL_ADMIN_SEGMENTS and any(groups):
            raise ValueError(f"{hook}: {prefix!r} is the kernel's own; rename plugin {name!r}")
        for group in groups:
            for bp in group or ():
                url_prefix = getattr(bp, "url_prefix", None) or ""
                if url_prefix != prefix and not url_prefix.startswith(prefix + "/"):
                    raise ValueError(
                        f"{hook}: blueprint {bp.name!r} has url_prefix {url_prefix!r}; plugin "
                        f"{name!r} must serve these routes under {prefix!r}"
                    )
                out.append(GatedBlueprint(hook, bp))
    return out


def _permissions(registry: PluginRegistry, record: PluginRecord) -> dict[str, str]:
    name = record.name
    perms = dict(record.info.permissions) if record.info else {}
    for group in registry.call_plugin(name, "plugboard_permissions"):
        perms.update(group or {})
    for perm, role in perms.items():
        if not perm.startswith(name + "."):
            raise ValueError(f"plugboard_permissions: {perm!r} must start with '{name}.'")
        try:
            check_role(perm, role)
        except ValueError as exc:
            raise ValueError(f"plugboard_permissions: {exc}") from None
    return perms


def check_names(app: Flask, found: Registration, taken: set[str]) -> None:
    """Blueprint names are global to the app: refuse a second one of a name."""
    for gated in found.blueprints:
        bp = gated.blueprint
        if bp.name in app.blueprints or bp.name in taken:
            raise ValueError(f"blueprint name {bp.name!r} is already used; prefix it with the plugin name")
        taken.add(bp.name)
