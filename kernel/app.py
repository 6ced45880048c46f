"""The application factory: ``create_app(config=None)`` is the one way to build an app."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, Response, jsonify, request
from werkzeug.exceptions import HTTPException, NotFound, UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import RequestRedirect

from kernel.config import Settings
from kernel.data.session import db
from kernel.identity.credentials import Passwords, SecretBox, Tokens
from kernel.identity.customer_auth import CustomerTokens
from kernel.identity.ratelimit import LoginThrottle
from kernel.identity.rbac import Permissions
from kernel.registry.activation import Activations
from kernel.registry.install import app_ready, install
from kernel.registry.manager import Candidate, PluginRegistry, builtin_candidates, entry_point_candidates
from kernel.registry.registrations import Registration
from kernel.request_hooks import Globals, request_hooks
from kernel.runtime import (
    account_mail,
    audit,
    events,
    maintenance,
    numbering,  # noqa: F401 - its model is part of the kernel's schema
)
from kernel.runtime.broadcast import Broadcast
from kernel.runtime.jobs import Jobs, kernel_job_specs
from kernel.runtime.mail import Mailer
from kernel.runtime.storage import make_storage
from kernel.services import EXTENSION, KernelServices
from kernel.tenancy.directory import TenantDirectory
from kernel.tenancy.members import Memberships
from kernel.tenancy.scope import leave_scope
from kernel.web import cors, idempotency, json_limits, observability, ratelimits, security_headers
from kernel.web.edge import install_edge
from kernel.web.errors import ProblemApi, problem_response
from kernel.web.pipeline_docs import PipelineDocs
from kernel.web.routes import (
    account,
    admin,
    admin_jobs,
    auth,
    bundles,
    customers,
    health,
    keys,
    mail_templates,
    plugins,
    public,
    tenant,
)
from kernel.web.routes.health import readiness_checks

API_VERSION = "0.1.0"

JSON_TYPES = ("application/json",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
NUL = "\x00"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a Plugboard app from ``PLUGBOARD_*`` variables, then ``config`` overrides.

    ``config`` keys are setting names (``database_url``) or their variable names
    (``PLUGBOARD_DATABASE_URL``).
    """
    config = dict(config or {})
    extra_plugins = list(config.pop("extra_plugins", []))
    load_builtin = bool(config.pop("load_builtin_plugins", True))
    load_entry_points = bool(config.pop("load_entry_points", True))
    settings = Settings.from_env(overrides=config)
    observability.configure_logging(settings.log_level)
    app = Flask("plugboard", static_folder=None)
    app.request_class = json_limits.LimitedRequest  # get_json() refuses JSON nested too deeply
    # Werkzeug redirects a path with a doubled slash (``a%2F%2Fb`` decodes to ``a//b``) to
    # the merged one with a 308 and an HTML page: a doubled slash is just an unknown path
    # (404 problem+json). Set before any rule is added (a rule takes the map's defaults
    # when it is added). The redirects that remain are JSON (_json_redirects).
    app.url_map.merge_slashes = False
    app.config.update(
        # No SECRET_KEY in Flask's config on purpose: the API keeps no cookie session, and
        # without a key Flask skips opening one on every request. Tokens use HKDF sub-keys
        # of PLUGBOARD_SECRET_KEY (kernel.identity.credentials).
        MAX_CONTENT_LENGTH=settings.max_content_length,
        TESTING=settings.env == "test",
        API_TITLE="Plugboard",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A JWT access token, or an API key (`pbk_…`).",
                    },
                    "customerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A storefront customer's access token "
                        "(`POST /api/v1/public/account/login`).",
                    },
                }
            }
        },
    )
    services = KernelServices(settings)
    app.extensions[EXTENSION] = services
    _init_services(services)
    db.init_app(app, settings.sqlalchemy_url,
                prepared_statements=settings.database_prepared_statements,
                transaction_pooling=settings.database_transaction_pooling,
                pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow)
    if settings.sqlalchemy_url.startswith("sqlite"):
        settings.data_path.mkdir(parents=True, exist_ok=True)
    observability.init_app(app)
    cors.init_app(app)  # preflights are answered before any other rule or gate
    ratelimits.init_app(app, settings)  # then requests are counted, before any other work
    security_headers.init_app(app)
    _init_request_rules(app)
    audit.init_app(app)

    services.api = ProblemApi(app, spec_kwargs={"extra_plugins": [PipelineDocs(settings.rate_limits)]})
    _register_kernel_routes(app, services.api)
    installed = _init_plugins(app, services, extra_plugins, load_builtin, load_entry_points)
    _init_error_handlers(app)
    idempotency.init_app(app)  # wraps every POST view: last, once all routes exist
    install_edge(app, installed)
    if settings.trusted_proxies:  # client IP (rate limits, audit) and scheme from the proxy
        n = settings.trusted_proxies  # outermost: the edge and Flask see the forwarded request
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app


def _init_services(services: KernelServices) -> None:
    settings = services.settings
    services.passwords = Passwords(settings)
    services.tokens = Tokens(settings)
    services.customer_tokens = CustomerTokens(settings)
    services.secrets = SecretBox(settings)
    services.broadcast = Broadcast(settings.redis_url, settings.redis_namespace)
    services.tenants = TenantDirectory(settings, services.broadcast)
    services.memberships = Memberships(services.broadcast)
    services.permissions = Permissions()
    services.mailer = Mailer(settings)
    services.throttle = LoginThrottle(settings, settings.redis_namespace)
    services.storage = make_storage(settings)


def _register_kernel_routes(app: Flask, api: ProblemApi) -> None:
    health.init_app(app)
    for blueprint in (auth.blp, tenant.blp, keys.blp, admin.blp, plugins.blp, plugins.admin_blp,
                      admin_jobs.blp, public.blp, bundles.blp, bundles.admin_blp, bundles.files_blp,
                      customers.blp, account.blp, mail_templates.blp):
        api.register_blueprint(blueprint)


def _init_plugins(app: Flask, services: KernelServices, extra: list[Any],
                  load_builtin: bool, load_entry_points: bool) -> dict[str, Registration]:
    """Load, install and freeze the plugins; start the job table. Returns what was installed."""
    settings = services.settings
    registry = PluginRegistry(settings.plugins_allow, settings.plugins_deny)
    registry.hook_error_listeners.append(services.metrics.hook_error)
    candidates: list[Candidate] = []
    if load_builtin:
        candidates += builtin_candidates()
    if load_entry_points:
        candidates += entry_point_candidates()
    candidates += [Candidate(_plugin_name(obj), "app", functools.partial(_same, obj)) for obj in extra]
    registry.load(candidates)
    services.registry = registry
    services.activations = Activations(registry, services.broadcast, services.secrets)
    installed = install(app, services)
    app_ready(app, registry)
    registry.freeze()
    services.jobs = Jobs(app, settings.redis_url, settings.redis_namespace)
    for spec in (*kernel_job_specs(), *events.kernel_job_specs(), *account_mail.kernel_job_specs(),
                 *maintenance.kernel_job_specs(), *idempotency.kernel_job_specs()):
        services.jobs.register_kernel(spec)
    readiness_checks(app)["plugins"] = functools.partial(_plugins_health, registry)
    return {name: found for name, found in installed.items() if name in registry.names()}


def _same(obj: Any) -> Any:
    return obj


def _plugin_name(obj: Any) -> str:
    info = getattr(obj, "plugin_info", None)
    return str(getattr(info, "name", None) or getattr(obj, "__name__", repr(obj)))


def _plugins_health(registry: PluginRegistry) -> tuple[str, str]:
    failed = registry.failures()
    if failed:
        return "degraded", "failed to load: " + ", ".join(sorted(r.name for r in failed))
    return "ok", f"{len(registry.loaded())} loaded"


def _argument_locations(app: Flask, endpoint: str | None) -> list[str]:
    """Where a view's flask-smorest arguments come from: json, query, form, files..."""
    view = app.view_functions.get(endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:  # a MethodView: the docs sit on the method
        view = getattr(view_class, request.method.lower(), None)
    params = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return [str(param.get("in")) for param in params]


def _expected_body_types(app: Flask, endpoint: str | None) -> tuple[str, ...] | None:
    """The body media types a view's flask-smorest arguments accept; None if it takes none."""
    types: list[str] = []
    for location in _argument_locations(app, endpoint):
        if location == "json":
            types.extend(JSON_TYPES)
        elif location in ("files", "form"):
            types.extend(("multipart/form-data", "application/x-www-form-urlencoded"))
    return tuple(types) or None


def _init_request_rules(app: Flask) -> None:
    hooks = request_hooks(app)

    @hooks.before
    def _check_content_type(req: Request, _g: Globals) -> None:
        if req.method not in BODY_METHODS:
            return
        expected = _expected_body_types(app, req.endpoint)
        has_body = bool(req.content_length) or req.headers.get("Transfer-Encoding")
        if expected is None or not has_body:
            return
        mimetype = req.mimetype
        if mimetype in expected or (mimetype.endswith("+json") and "application/json" in expected):
            return
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(sorted(set(expected)))} "
            f"(got {mimetype or 'no Content-Type'})."
        )

    @hooks.before
    def _json_redirects(req: Request, _g: Globals) -> Response | None:
        # A rule ending in a slash (``/api/v1/public/pages/``) redirects the path without
        # it, and Flask sends Werkzeug's HTML page without calling any error handler.
        redirect = req.routing_exception
        if not isinstance(redirect, RequestRedirect):
            return None
        answer = jsonify(location=redirect.new_url)
        answer.status_code = redirect.code
        answer.headers["Location"] = redirect.new_url
        return answer

    @hooks.before
    def _refuse_nul_in_path(req: Request, _g: Globals) -> None:
        # PostgreSQL text cannot hold U+0000. Bodies and query strings are checked where
        # they are parsed, after authentication and the route's size limit
        # (kernel.web.json_limits).
        if any(NUL in str(value) for value in (req.view_args or {}).values()):
            raise NotFound()

    @hooks.teardown
    def _close_scope(g: Globals, exc: BaseException | None) -> None:
        token = g.pop("scope_token", None)
        if token is not None:
            leave_scope(token)
        if exc is not None:
            db.session.rollback()


def _init_error_handlers(app: Flask) -> None:
    # Registered after flask-smorest's own handler so ours wins for every HTTP error.
    app.register_error_handler(HTTPException, problem_response)
