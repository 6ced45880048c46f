"""Route gates: the kernel's checks before any plugin view runs, so plugins never make them.

* tenant routes (``/api/v1/<plugin>``): authenticate, open the tenant scope, 404
  ``plugin-not-enabled`` when the tenant has not enabled the plugin, run request guards;
* public routes (``/api/v1/public/<plugin>``): resolve the tenant from Host or
  ``X-Tenant``, open its scope, same 404;
* webhooks (``/api/v1/webhooks/<plugin>``): when the rule has a ``<tenant>`` segment, the
  tenant is resolved by slug and gated the same way;
* admin routes (``/api/v1/admin/<plugin>``): platform admins only, in the platform scope.

:func:`admit_public` is the one sequence a public request goes through, whether Flask
serves it (the public gate) or the public edge answers it from memory
(:mod:`kernel.web.edge`).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable

from flask import Request, g, request

from kernel.identity.auth import authenticate, open_scope_for, require_platform_admin
from kernel.problems import problem
from kernel.registry.guards import run_guards
from kernel.services import KernelServices, kernel_services
from kernel.tenancy.directory import COLD, Cold, TenantInfo, unknown_public_tenant
from kernel.tenancy.scope import enter_tenant_scope

Gate = Callable[[], None]


class Refusal(enum.Enum):
    """Why a public request reaches no plugin view."""

    UNKNOWN_TENANT = "unknown-tenant"
    NOT_ENABLED = "plugin-not-enabled"


def not_enabled(name: str) -> None:
    problem(404, "plugin-not-enabled", title="Plugin not enabled",
            detail=f"The plugin {name!r} is not enabled for this tenant.", plugin=name)


def admit_public(services: KernelServices, req: Request, plugin: str, *,
                 memory_only: bool = False) -> TenantInfo | Refusal | Cold:
    """The tenant a public request of ``plugin`` may proceed as, or why not.

    With ``memory_only`` (the public edge, outside any app context) nothing is loaded:
    :data:`COLD` when the tenant or its activations are not cached yet.
    """
    tenants = services.tenants
    info = tenants.cached_for_public_request(req) if memory_only else tenants.for_public_request(req)
    if info is COLD:
        return COLD
    if info is None:
        return Refusal.UNKNOWN_TENANT
    snapshot = services.activations.snapshot
    enabled = snapshot.cached(info.id) if memory_only else snapshot.enabled(info.id)
    if enabled is None:
        return COLD
    return info if plugin in enabled else Refusal.NOT_ENABLED


def enter_tenant(plugin: str, tenant_id: uuid.UUID) -> None:
    """For webhook views that find the tenant in the payload: scope and gate it."""
    if "scope_token" not in g:
        g.scope_token = enter_tenant_scope(tenant_id)
    if not kernel_services().activations.is_enabled(tenant_id, plugin):
        not_enabled(plugin)


def tenant_gate(name: str) -> Gate:
    def gate() -> None:
        principal = authenticate()
        open_scope_for(principal)
        assert principal.tenant_id is not None
        if not kernel_services().activations.is_enabled(principal.tenant_id, name):
            not_enabled(name)
        run_guards(principal.tenant_id)

    return gate


def public_gate(name: str) -> Gate:
    def gate() -> None:
        admitted = admit_public(kernel_services(), request, name)
        if admitted is Refusal.UNKNOWN_TENANT:
            unknown_public_tenant()
        if admitted is Refusal.NOT_ENABLED:
            not_enabled(name)
        assert isinstance(admitted, TenantInfo)
        g.public_tenant = admitted
        if "scope_token" not in g:
            g.scope_token = enter_tenant_scope(admitted.id)

    return gate


def webhook_gate(name: str) -> Gate:
    def gate() -> None:
        slug = (request.view_args or {}).get("tenant")
        if slug is None:
            return  # the plugin identifies the tenant itself, then calls enter_tenant()
        info = kernel_services().tenants.by_slug(str(slug))
        if info is None or info.status != "active":
            problem(404, "unknown-tenant", title="Unknown tenant", detail="No such tenant.")
        g.public_tenant = info
        enter_tenant(name, info.id)

    return gate


def admin_gate(name: str) -> Gate:
    def gate() -> None:
        # platform admins only, in the platform scope: a tenant's token or key gets 403
        require_platform_admin()

    return gate


#: blueprint hook -> the gate its routes get
GATES: dict[str, Callable[[str], Gate]] = {
    "plugboard_blueprints": tenant_gate,
    "plugboard_public_blueprints": public_gate,
    "plugboard_webhook_blueprints": webhook_gate,
    "plugboard_admin_blueprints": admin_gate,
}
