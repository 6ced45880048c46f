"""Request guards: a tenant's enabled plugins may refuse a request (``plugboard_request_guard``).

Run once per request, by the route gates and by :func:`kernel.identity.auth.auth_required`,
after the tenant scope is open.
"""

from __future__ import annotations

import uuid

from flask import g, request

from hookspecs import PluginRefusal
from kernel.problems import problem
from kernel.services import kernel_services


def run_guards(tenant_id: uuid.UUID) -> None:
    """Let the tenant's enabled plugins refuse the current request (once per request)."""
    if g.get("guards_ran"):
        return
    g.guards_ran = True
    services = kernel_services()
    if not services.guard_plugins:
        return
    enabled = services.activations.snapshot.enabled(tenant_id)
    if not services.guard_plugins & enabled:
        return
    hook = services.activations.registry.hook_for(enabled, "plugboard_request_guard")
    try:
        hook(tenant_id=tenant_id, endpoint=request.endpoint or "", method=request.method)
    except PluginRefusal as refusal:
        problem(refusal.status, refusal.type_, title="Request refused", detail=refusal.reason)
