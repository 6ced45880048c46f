"""The stable surface plugins may import: ``from kernel.api import …``.

Everything else under ``kernel`` is private and may change in any release; what is
listed in ``__all__`` here follows the contract version (``hookspecs.CONTRACT_VERSION``)
and is deprecated for one minor version before it goes. See ``docs/writing-plugins.md``.

* models: :class:`Base`, :class:`TenantOwned`, :data:`db`, :func:`utcnow`
* tenancy: :func:`tenant_scope`, :func:`current_tenant_id`, :func:`platform_scope`,
  :class:`TenantScopeError`, :func:`enter_tenant` (webhooks that find the tenant in
  the payload)
* auth: :func:`auth_required`, :func:`platform_admin_required` (1.1, for
  ``plugboard_admin_blueprints`` views), :func:`require_permission`
  (checks that depend on the data), :func:`current_principal`, :func:`acting_principal`
  (who to record as the actor), :class:`Principal`
* errors and HTTP helpers: :func:`problem`, :class:`Problem`, :func:`validation_problem`
  and :func:`field_error` (422 with field errors), :func:`paginate`,
  :func:`audit_describe`, :func:`audit_skip` (1.1: no audit row, e.g. webhooks), :func:`public_tenant`
* migrations: :func:`enable_tenant_rls`, :func:`disable_tenant_rls`, :func:`alembic_config` (1.1)
* services: :func:`plugin_config`, :func:`mailer`, :func:`tenant_hook`, :func:`storage`,
  :func:`broadcast` (cross-process cache invalidation), :func:`after_commit`,
  :func:`page_components`, :func:`add_demo_seeder`, :func:`emit` (domain events of the
  tenant in scope), :func:`enqueue` (jobs after commit), :func:`public_url`,
  :func:`redis_config` (1.1: shared counters such as a send rate)
* public files: :func:`public_asset_key`, :func:`public_asset_url`; :func:`public_url` (1.1)
* cacheable public answers (1.1): :func:`cache_public` (decorator), :func:`cacheable`
* storefront fast path: :func:`add_public_responder`, :class:`EdgeResponse`
* events and jobs (1.1): :func:`emit`, :func:`enqueue`, :class:`EventNameError`
* numbers people read (1.1): :func:`next_number` (gapless, per tenant)
* customers (1.1): :class:`Customer`, :func:`find_or_create_customer`,
  :func:`customer_by_phone`, :func:`current_customer`, :func:`customer_required`

.. versionadded:: 1.0
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from alembic.config import Config as AlembicConfig
from flask import Flask, current_app

from kernel.data import migrate as _migrate
from kernel.data import session as _db
from kernel.data.base import Base, TenantOwned, utcnow
from kernel.data.rls import disable_tenant_rls, enable_tenant_rls
from kernel.data.session import db
from kernel.identity.auth import (
    Principal,
    acting_principal,
    auth_required,
    current_principal,
    platform_admin_required,
    require_permission,
)
from kernel.identity.customer_auth import current_customer, customer_required
from kernel.identity.customers import Customer, customer_by_phone, find_or_create_customer
from kernel.problems import Problem, field_error, problem, validation_problem
from kernel.registry.gates import enter_tenant
from kernel.runtime.audit import describe as audit_describe
from kernel.runtime.audit import skip as audit_skip
from kernel.runtime.broadcast import Broadcast
from kernel.runtime.mail import Mailer
from kernel.runtime.numbering import next_number
from kernel.runtime.plugin_calls import EventNameError, emit, enqueue
from kernel.runtime.storage import Storage, public_asset_key, public_asset_url, public_base_url
from kernel.services import kernel_services
from kernel.tenancy.directory import public_tenant
from kernel.tenancy.scope import TenantScopeError, current_tenant_id, platform_scope, tenant_scope
from kernel.web.caching import cache_public, cacheable
from kernel.web.edge import EdgeResponse, add_public_responder
from kernel.web.pagination import paginate

__all__ = [
    "Base",
    "Customer",
    "EdgeResponse",
    "EventNameError",
    "Principal",
    "Problem",
    "TenantOwned",
    "TenantScopeError",
    "acting_principal",
    "add_demo_seeder",
    "add_public_responder",
    "after_commit",
    "alembic_config",
    "audit_describe",
    "audit_skip",
    "auth_required",
    "broadcast",
    "cache_public",
    "cacheable",
    "current_customer",
    "current_principal",
    "current_tenant_id",
    "customer_by_phone",
    "customer_required",
    "db",
    "disable_tenant_rls",
    "emit",
    "enable_tenant_rls",
    "enqueue",
    "enter_tenant",
    "field_error",
    "find_or_create_customer",
    "mailer",
    "next_number",
    "page_components",
    "paginate",
    "platform_admin_required",
    "platform_scope",
    "plugin_config",
    "problem",
    "public_asset_key",
    "public_asset_url",
    "public_tenant",
    "public_url",
    "redis_config",
    "require_permission",
    "storage",
    "tenant_hook",
    "tenant_scope",
    "utcnow",
    "validation_problem",
]


def plugin_config(plugin: str) -> dict[str, Any]:
    """``plugin``'s plaintext config for the tenant in scope (secrets decrypted).

    For the plugin's own use only: never return it in a response (the kernel's
    ``/plugins/<name>/config`` masks secrets for that). Raises
    :class:`TenantScopeError` outside a tenant scope.

    .. versionadded:: 1.0
    """
    return kernel_services().activations.config_of(current_tenant_id(), plugin)


def mailer() -> Mailer:
    """The app's mailer: ``mailer().send(to, "template.txt", **context)``.

    Register a plugin's templates once with ``mailer().add_templates("my_package")``.

    .. versionadded:: 1.0
    """
    return kernel_services().mailer


def tenant_hook(hook: str) -> Any:
    """``hook`` restricted to the plugins the tenant in scope has enabled.

    This is how one plugin asks the others something without importing them, e.g.
    ``tenant_hook("plugboard_resolve_payable")(tenant_id=tid, kind="invoice", ref=ref)``
    (keyword arguments only). Raises :class:`TenantScopeError` outside a tenant scope.

    .. versionadded:: 1.0
    """
    activations = kernel_services().activations
    enabled = activations.snapshot.enabled(current_tenant_id())
    return activations.registry.hook_for(enabled, hook)


def storage() -> Storage:
    """The app's object storage (S3/MinIO, or a local folder in the embedded profile).

    Keep a tenant's files under ``tenants/<tenant id>/``; files for anyone to fetch go
    under :func:`public_asset_key` and are served at :func:`public_asset_url`.

    .. versionadded:: 1.0
    """
    return kernel_services().storage


def broadcast(app: Flask | None = None) -> Broadcast:
    """The app's invalidation bus: ``publish(topic, key)`` reaches ``subscribe``rs in every process.

    For in-process caches of a plugin's data: subscribe once (in ``plugboard_app_ready``,
    with the ``app`` it receives) and drop ``key`` (``None``: everything) when told.
    Publish after the change commits (see :func:`after_commit`).

    .. versionadded:: 1.0
    """
    return kernel_services(app).broadcast


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback()`` once the current transaction commits; dropped if it rolls back.

    Runs at once when no transaction is open. The callback must not use the session.

    .. versionadded:: 1.0
    """
    _db.after_commit(db.session(), callback)


def page_components(app: Flask | None = None) -> list[dict[str, Any]]:
    """Every page-editor component plugins declared (``plugboard_page_components``).

    Each is the declared mapping plus ``"plugin"``, the declaring plugin's name.

    .. versionadded:: 1.0
    """
    return [dict(c) for c in kernel_services(app).page_components]


def add_demo_seeder(app: Flask, seeder: Callable[[uuid.UUID], None]) -> None:
    """Have ``plugboard demo`` call ``seeder(tenant_id)`` (inside that tenant's scope).

    Call it from ``plugboard_app_ready(app)``. The seeder must be idempotent (``make run``
    seeds on every start) and commit its own work.

    .. versionadded:: 1.0
    """
    kernel_services(app).demo_seeders.append(seeder)


def public_url(path: str = "") -> str:
    """The address the outside world reaches this installation at, followed by ``path``:
    for links in mails and the webhook URLs providers call.

    ``PLUGBOARD_PUBLIC_URL`` when set; else, inside a request, the scheme, host and port the
    client used (behind ``PLUGBOARD_TRUSTED_PROXIES``, the proxy's ``X-Forwarded-*``).

    .. versionadded:: 1.1
    """
    base = public_base_url()
    return base + ("/" + path.lstrip("/") if path else "")


def alembic_config(app: Flask | None = None) -> AlembicConfig:
    """The app's alembic configuration: the kernel's revisions and every loaded plugin's
    branch, to write a plugin's next revision with alembic's ``command.revision``
    (``head="<plugin>@head"``) or inspect the history. ``plugboard db upgrade`` applies them.

    .. versionadded:: 1.1
    """
    return _migrate.alembic_config(app or current_app._get_current_object())  # type: ignore[attr-defined]


def redis_config(app: Flask | None = None) -> tuple[str, str]:
    """``(url, namespace)`` of the Redis every process shares; url is ``""`` in embedded mode.

    Prefix your keys with the namespace. Without Redis keep such state in process memory.

    .. versionadded:: 1.1
    """
    settings = kernel_services(app).settings
    return str(settings.redis_url or ""), str(settings.redis_namespace)
