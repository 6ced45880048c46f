"""Collecting what one plugin registers, validated before anything is installed.

:func:`collect` calls a plugin's registration hooks and returns a typed
:class:`Registration`, or raises ``ValueError`` naming the hook and what to fix;
:mod:`kernel.registry.install` installs the registrations of the plugins that passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from croniter import croniter
from flask import Blueprint, Flask

from hookspecs import EventHandler, JobSpec
from kernel.identity.rbac import check_role
from kernel.registry.manager import PluginRecord, PluginRegistry
from kernel.runtime.plugin_calls import EVENT_NAME, EventNameError, check_event_name

#: a job's name after ``<plugin>.`` and a queue's name: what rq, Redis keys and logs take as is
JOB_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
QUEUE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

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
        _check_job(name, job)
    found.events = [
        e for group in registry.call_plugin(name, "plugboard_event_handlers") for e in group or ()
    ]
    for handler in found.events:
        if not isinstance(handler, EventHandler):
            raise ValueError(f"plugboard_event_handlers: {handler!r} is not an EventHandler")
        _check_handled_event(handler)
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


def _check_job(plugin: str, job: Any) -> None:
    """What would only fail later (a cron the scheduler cannot parse, a queue name rq
    mangles) fails now, naming the job."""
    if not isinstance(job, JobSpec):
        raise ValueError(f"plugboard_jobs: {job!r} must be a JobSpec named '{plugin}.<job>'")
    short = job.name.removeprefix(plugin + ".")
    if short == job.name or not JOB_NAME.match(short):
        raise ValueError(f"plugboard_jobs: job {job.name!r} must be named '{plugin}.<job>', "
                         "<job> in lower case letters, digits and _")
    if not callable(job.func):
        raise ValueError(f"plugboard_jobs: job {job.name!r}: func {job.func!r} is not callable")
    if not isinstance(job.queue, str) or not QUEUE_NAME.match(job.queue):
        raise ValueError(f"plugboard_jobs: job {job.name!r}: queue {job.queue!r} must be lower case "
                         "letters, digits, _ and - (at most 63), starting with a letter")
    if job.cron is not None and (not isinstance(job.cron, str) or not croniter.is_valid(job.cron)
                                 or len(job.cron.split()) != 5):
        raise ValueError(f"plugboard_jobs: job {job.name!r}: cron {job.cron!r} is not a cron "
                         "expression of five fields (minute hour day month weekday, UTC), "
                         "e.g. '15 3 * * *'")


def _check_handled_event(handler: EventHandler) -> None:
    """The event a handler waits for must be a name ``emit`` accepts, or it never comes."""
    event = handler.event
    try:
        if not isinstance(event, str) or not EVENT_NAME.match(event):
            raise EventNameError(f"{event!r} is not '<plugin>.<entity>.<past-tense verb>' in lower case")
        check_event_name(event, event.split(".")[0])
    except EventNameError as exc:
        raise ValueError(f"plugboard_event_handlers: handler {handler.name or handler.func!r} "
                         f"waits for an event no plugin can emit: {exc}") from None


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
