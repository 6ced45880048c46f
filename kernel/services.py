"""The kernel's services, one typed object per app: ``kernel_services(app).activations``.

``create_app`` builds one :class:`KernelServices` and keeps it in ``app.extensions``
under a single key; every other module reaches a service through :func:`kernel_services`
instead of a string key per service. This module is a bottom layer: it imports the
services' types for type checking only, so any layer may import it.
Plugins do not use it: they have :mod:`kernel.api` (``storage()``, ``mailer()``, …).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from hookspecs import EventHandler, JobSpec
    from kernel.config import Settings
    from kernel.identity.credentials import Passwords, SecretBox, Tokens
    from kernel.identity.customer_auth import CustomerTokens
    from kernel.identity.ratelimit import LoginThrottle
    from kernel.identity.rbac import Permissions
    from kernel.registry.activation import Activations
    from kernel.registry.manager import PluginRegistry
    from kernel.runtime.broadcast import Broadcast
    from kernel.runtime.jobs import Jobs
    from kernel.runtime.mail import Mailer
    from kernel.runtime.storage import Storage
    from kernel.tenancy.directory import TenantDirectory
    from kernel.tenancy.members import Memberships
    from kernel.web.edge import Responder
    from kernel.web.errors import ProblemApi
    from kernel.web.observability import Metrics
    from kernel.web.ratelimits import RateLimits

EXTENSION = "plugboard"

#: ``(plugin name, job spec)`` by job name, kernel jobs included (plugin ``"kernel"``)
JobTable = dict[str, tuple[str, "JobSpec"]]
#: ``(plugin name, handler)`` lists by event name
HandlerTable = dict[str, list[tuple[str, "EventHandler"]]]
#: ``check() -> (status, detail)`` for ``/health/ready``
HealthCheck = Callable[[], tuple[str, str]]


class KernelServices:
    """Everything the kernel built for one app.

    ``create_app`` sets the services in wiring order (settings first, the job runner
    last); reading one before it is set raises ``AttributeError``, which only wiring
    code can hit. The tables below are filled while plugins are installed and are
    read-only once the registry is frozen.
    """

    engine: Engine
    # whether sessions of GET requests read outside a transaction (see kernel.data.session)
    reads_outside_transaction: bool
    passwords: Passwords
    tokens: Tokens
    customer_tokens: CustomerTokens
    secrets: SecretBox
    broadcast: Broadcast
    tenants: TenantDirectory
    memberships: Memberships
    permissions: Permissions
    mailer: Mailer
    throttle: LoginThrottle
    storage: Storage
    metrics: Metrics
    api: ProblemApi
    registry: PluginRegistry
    activations: Activations
    jobs: Jobs
    rate_limits: RateLimits

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.job_specs: JobTable = {}
        self.event_handlers: HandlerTable = {}
        self.page_components: list[dict[str, Any]] = []
        self.migration_dirs: list[str] = []
        #: plugins implementing ``plugboard_request_guard``
        self.guard_plugins: frozenset[str] = frozenset()
        self.demo_seeders: list[Callable[[uuid.UUID], None]] = []
        self.public_responders: dict[str, Responder] = {}
        #: blueprint name -> the plugin that registered it (metrics label requests with it)
        self.blueprint_plugins: dict[str, str] = {}
        self.health_checks: dict[str, HealthCheck] = {}
        #: (tenant slug, bundle version) -> the bundle's file manifest, see kernel.registry.bundles
        self.bundle_manifests: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}


def kernel_services(app: Flask | None = None) -> KernelServices:
    """The services of ``app`` (default: the current app)."""
    if app is None:
        app = current_app
    return cast(KernelServices, app.extensions[EXTENSION])
