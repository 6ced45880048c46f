"""The stable surface plugins may import: ``from kernel.api import …``.

Everything else under ``kernel`` is private and may change in any release; what is
listed in ``__all__`` here follows the contract version (``hookspecs.CONTRACT_VERSION``)
and is deprecated for one minor version before it goes. See ``docs/writing-plugins.md``.

* models: :class:`Base`, :class:`TenantOwned`, :data:`db`, :func:`utcnow`
* tenancy: :func:`tenant_scope`, :func:`current_tenant_id`, :func:`platform_scope`,
  :class:`TenantScopeError`, :func:`enter_tenant` (webhooks that find the tenant in
  the payload)
* auth: :func:`auth_required`, :func:`current_principal`, :class:`Principal`
* errors and HTTP helpers: :func:`problem`, :class:`Problem`, :func:`paginate`,
  :func:`audit_describe`, :func:`audit_skip`, :func:`public_tenant`
* migrations: :func:`enable_tenant_rls`, :func:`disable_tenant_rls`
* services: :func:`plugin_config`, :func:`mailer`, :func:`tenant_hook`, :func:`storage`,
  :func:`broadcast` (cross-process cache invalidation), :func:`after_commit`,
  :func:`page_components`, :func:`add_demo_seeder`
* runtime: :func:`emit` (domain events), :func:`enqueue` (jobs), :func:`public_url`,
  :func:`redis_config` (shared counters such as rate limits)
* public files: :func:`public_asset_key`, :func:`public_asset_url`
* storefront fast path: :func:`add_public_responder`, :class:`EdgeResponse`

.. versionadded:: 1.0
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, current_app

from kernel import db as _db
from kernel.audit import describe as audit_describe
from kernel.audit import skip as audit_skip
from kernel.auth import Principal, auth_required, current_principal
from kernel.broadcast import Broadcast
from kernel.db import Base, TenantOwned, db, utcnow
from kernel.errors import Problem, problem
from kernel.mail import Mailer
from kernel.pagination import paginate
from kernel.plugin_web import EdgeResponse, add_public_responder, enter_tenant
from kernel.rls import disable_tenant_rls, enable_tenant_rls
from kernel.routes.public import public_asset_key, public_asset_url, public_tenant
from kernel.storage import Storage
from kernel.tenancy import TenantScopeError, current_tenant_id, platform_scope, tenant_scope

__all__ = [
    "Base",
    "EdgeResponse",
    "Principal",
    "Problem",
    "TenantOwned",
    "TenantScopeError",
    "add_demo_seeder",
    "add_public_responder",
    "after_commit",
    "audit_describe",
    "audit_skip",
    "auth_required",
    "broadcast",
    "current_principal",
    "current_tenant_id",
    "db",
    "disable_tenant_rls",
    "emit",
    "enable_tenant_rls",
    "enqueue",
    "enter_tenant",
    "mailer",
    "page_components",
    "paginate",
    "platform_scope",
    "plugin_config",
    "problem",
    "public_asset_key",
    "public_asset_url",
    "public_tenant",
    "public_url",
    "redis_config",
    "storage",
    "tenant_hook",
    "tenant_scope",
    "utcnow",
]


def plugin_config(plugin: str) -> dict[str, Any]:
    """``plugin``'s plaintext config for the tenant in scope (secrets decrypted).

    For the plugin's own use only: never return it in a response (the kernel's
    ``/plugins/<name>/config`` masks secrets for that). Raises
    :class:`TenantScopeError` outside a tenant scope.

    .. versionadded:: 1.0
    """
    activations = current_app.extensions["plugboard.activations"]
    return cast(dict[str, Any], activations.config_of(current_tenant_id(), plugin))


def mailer() -> Mailer:
    """The app's mailer: ``mailer().send(to, "template.txt", **context)``.

    Register a plugin's templates once with ``mailer().add_templates("my_package")``.

    .. versionadded:: 1.0
    """
    return cast(Mailer, current_app.extensions["plugboard.mailer"])


def tenant_hook(hook: str) -> Any:
    """``hook`` restricted to the plugins the tenant in scope has enabled.

    This is how one plugin asks the others something without importing them, e.g.
    ``tenant_hook("plugboard_resolve_payable")(tenant_id=tid, kind="invoice", ref=ref)``
    (keyword arguments only). Raises :class:`TenantScopeError` outside a tenant scope.

    .. versionadded:: 1.0
    """
    activations = current_app.extensions["plugboard.activations"]
    enabled = activations.snapshot.enabled(current_tenant_id())
    return activations.registry.hook_for(enabled, hook)


def storage() -> Storage:
    """The app's object storage (S3/MinIO, or a local folder in the embedded profile).

    Keep a tenant's files under ``tenants/<tenant id>/``; files for anyone to fetch go
    under :func:`public_asset_key` and are served at :func:`public_asset_url`.

    .. versionadded:: 1.0
    """
    return cast(Storage, current_app.extensions["plugboard.storage"])


def broadcast(app: Flask | None = None) -> Broadcast:
    """The app's invalidation bus: ``publish(topic, key)`` reaches ``subscribe``rs in every process.

    For in-process caches of a plugin's data: subscribe once (e.g. while registering, with
    the ``app`` a registration hook receives) and drop ``key`` (``None``: everything)
    when told. Publish after the change commits (see :func:`after_commit`).

    .. versionadded:: 1.0
    """
    return cast(Broadcast, (app or current_app).extensions["plugboard.broadcast"])


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
    found = (app or current_app).extensions.get("plugboard.page_components", [])
    return [dict(c) for c in found]


def add_demo_seeder(app: Flask, seeder: Callable[[uuid.UUID], None]) -> None:
    """Have ``plugboard demo`` call ``seeder(tenant_id)`` (inside that tenant's scope).

    Call it from a registration hook that receives ``app``. The seeder must be
    idempotent (``make run`` seeds on every start) and commit its own work.

    .. versionadded:: 1.0
    """
    app.extensions.setdefault("plugboard.demo_seeders", []).append(seeder)


def emit(name: str, payload: dict[str, Any]) -> uuid.UUID:
    """Record domain event ``name`` for the tenant in scope, in the current transaction.

    Delivered after commit to the handlers of the plugins the tenant enabled (once per
    handler); nothing is sent if the transaction rolls back. Payloads carry ids, amounts
    and currencies, never secrets. Raises :class:`TenantScopeError` outside a tenant scope.

    .. versionadded:: 1.1
    """
    from kernel.events import emit as _emit

    return _emit(current_tenant_id(), name, payload)


def enqueue(job: str, *, key: str | None = None, **kwargs: Any) -> None:
    """Run job ``job`` (declared in ``plugboard_jobs``) for the tenant in scope after commit.

    ``kwargs`` must be JSON-serialisable (pass ids, not objects); ``key`` makes the run
    happen at most once. Inline in the embedded profile, on an rq worker otherwise.

    .. versionadded:: 1.1
    """
    current_app.extensions["plugboard.jobs_runner"].enqueue(job, current_tenant_id(), key=key, **kwargs)


def public_url(path: str = "") -> str:
    """The installation's public base URL (``PLUGBOARD_PUBLIC_URL``) joined with ``path``.

    For URLs handed to outside providers (webhook and status-callback URLs).

    .. versionadded:: 1.1
    """
    base = str(current_app.extensions["plugboard.settings"].public_url).rstrip("/")
    return base + ("/" + path.lstrip("/") if path else "")


def redis_config(app: Flask | None = None) -> tuple[str, str]:
    """``(url, namespace)`` of the Redis every process shares; url is ``""`` in embedded mode.

    Prefix your keys with the namespace. Without Redis keep such state in process memory.

    .. versionadded:: 1.1
    """
    settings = (app or current_app).extensions["plugboard.settings"]
    return str(settings.redis_url), str(settings.redis_namespace)
