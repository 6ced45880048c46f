"""``emit`` and ``enqueue`` for plugins: the tenant from the scope, the caller's namespace
checked.

A plugin announces what happened with ``emit("<plugin>.<entity>.<past-tense verb>", {...})``
(the outbox delivers it after the transaction commits, once per handler, only to tenants
that enabled the handling plugin) and runs work later with ``enqueue("<job>", **kwargs)``.

.. versionadded:: 1.1
"""

from __future__ import annotations

import re
import sys
import uuid
from typing import Any

from kernel.runtime import events
from kernel.services import kernel_services
from kernel.tenancy.scope import current_scope, current_tenant_id

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
# past participles that do not end in -ed (verbs of DOMAIN.md's events and common others)
IRREGULAR_PAST = frozenset({
    "paid", "sent", "held", "made", "built", "won", "lost", "begun", "done", "read", "set",
    "put", "cut", "shut", "spent", "sold", "bought", "given", "taken", "written", "shown",
    "known", "drawn", "chosen", "frozen", "broken", "bound", "found", "run", "left", "kept",
    "met", "rung", "withdrawn", "undone", "reset", "rebuilt", "resent", "overpaid",
})


EED_PAST = frozenset({"agreed", "freed", "guaranteed", "decreed", "refereed", "disagreed"})


class EventNameError(ValueError):
    """An event name that is not ``<plugin>.<entity>.<past-tense verb>`` of the emitter."""


def check_event_name(name: str, plugin: str) -> None:
    """Raise :class:`EventNameError` unless ``name`` is a well-formed event of ``plugin``."""
    if not EVENT_NAME.match(name):
        raise EventNameError(
            f"Event name {name!r} must be '<plugin>.<entity>.<past-tense verb>' in lower case, "
            f"e.g. '{plugin}.order.placed'.")
    owner, _entity, verb = name.split(".")
    if owner != plugin:
        raise EventNameError(
            f"Plugin {plugin!r} may only emit events in its own namespace ('{plugin}.…'), "
            f"not {name!r}.")
    if not _past_tense(verb.split("_")[0]):
        raise EventNameError(
            f"Event {name!r} should end in a past-tense verb (what happened: "
            f"'{plugin}.{_entity}.created', '….paid'), not {verb!r}.")


def _past_tense(word: str) -> bool:
    if word in IRREGULAR_PAST:
        return True
    # "succeed", "proceed", "need" end in -ed but are present tense; "agreed" is past
    if word.endswith("eed"):
        return word in EED_PAST
    return word.endswith("ed")


def calling_plugin(depth: int = 2) -> str:
    """The name of the loaded plugin whose code called the caller of this function."""
    module = sys._getframe(depth).f_globals.get("__name__", "")
    best = ""
    name = ""
    for record in kernel_services().registry.loaded():
        package = record.package
        if package and (module == package or module.startswith(package + ".")) and len(package) > len(best):
            best, name = package, record.name
    if not name:
        raise RuntimeError(
            f"emit() was called from {module!r}, which belongs to no loaded plugin; call it from "
            "your plugin's own package.")
    return name


def emit(name: str, payload: dict[str, Any]) -> uuid.UUID:
    """Record event ``name`` for the tenant in scope; delivered after the transaction commits.

    ``name`` is ``<your plugin>.<entity>.<past-tense verb>`` (e.g. ``payments.payment.succeeded``);
    the payload is JSON (ids, amounts, currencies; never secrets). Raises
    :class:`EventNameError` for a malformed name or another plugin's namespace, and
    :class:`~kernel.tenancy.TenantScopeError` outside a tenant scope. Returns the event's id.

    .. versionadded:: 1.1
    """
    check_event_name(name, calling_plugin())
    return events.emit(current_tenant_id(), name, payload)


def enqueue(job: str, *, key: str | None = None, **kwargs: Any) -> None:
    """Run job ``job`` (one a plugin declared in ``plugboard_jobs``) after the current
    transaction commits, for the tenant in scope (or platform-wide outside a tenant scope).

    Arguments must be JSON-serialisable (pass ids, not objects). ``key`` makes it idempotent:
    a second job with the same key is not run again. Jobs run inline in the embedded
    profile, on rq workers with Redis.

    .. versionadded:: 1.1
    """
    scope = current_scope()
    tenant = None if scope is None or scope.is_platform else scope.tenant_id
    kernel_services().jobs.enqueue(job, tenant, key=key, **kwargs)
