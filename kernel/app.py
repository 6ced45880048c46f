"""The application factory: ``create_app(config=None)`` is the one way to build an app."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException, NotFound, UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix

from kernel import (
    audit,
    cors,
    events,
    idempotency,
    json_limits,
    mail_jobs,
    observability,
    ratelimits,
    security_headers,
)
from kernel.activation import Activations
from kernel.broadcast import Broadcast
from kernel.config import Settings
from kernel.db import db
from kernel.errors import ProblemApi, problem_response
from kernel.jobs import Jobs, kernel_job_specs
from kernel.mail import Mailer
from kernel.pipeline_docs import PipelineDocs
from kernel.ratelimit import LoginThrottle
from kernel.rbac import Permissions
from kernel.registry import Candidate, PluginRegistry, builtin_candidates, entry_point_candidates
from kernel.security import Passwords, SecretBox, Tokens
from kernel.storage import make_storage
from kernel.tenancy import leave_scope
from kernel.tenants import Memberships, TenantDirectory

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
    app.config.update(
        # No SECRET_KEY in Flask's config on purpose: the API keeps no cookie session, and
        # without a key Flask skips opening one on every request. Tokens use HKDF sub-keys
        # of PLUGBOARD_SECRET_KEY (kernel.security).
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
                    }
                }
            }
        },
    )
    app.extensions["plugboard.settings"] = settings
    if settings.trusted_proxies:  # client IP (rate limits, audit) and scheme from the proxy
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.extensions["plugboard.passwords"] = Passwords(settings)
    app.extensions["plugboard.tokens"] = Tokens(settings)
    app.extensions["plugboard.secrets"] = SecretBox(settings)
    broadcast = Broadcast(settings.redis_url, settings.redis_namespace)
    app.extensions["plugboard.broadcast"] = broadcast
    app.extensions["plugboard.tenants"] = TenantDirectory(settings, broadcast)
    app.extensions["plugboard.memberships"] = Memberships(broadcast)
    app.extensions["plugboard.permissions"] = Permissions()
    app.extensions["plugboard.mailer"] = Mailer(settings)
    app.extensions["plugboard.throttle"] = LoginThrottle(settings, settings.redis_namespace)
    app.extensions["plugboard.storage"] = make_storage(settings)

    db.init_app(app, settings.sqlalchemy_url,
                prepared_statements=settings.database_prepared_statements)
    if settings.sqlalchemy_url.startswith("sqlite"):
        settings.data_path.mkdir(parents=True, exist_ok=True)
    observability.init_app(app)
    cors.init_app(app)  # preflights are answered before any other rule or gate
    ratelimits.init_app(app, settings)  # then requests are counted, before any other work
    security_headers.init_app(app)
    _init_request_rules(app)
    audit.init_app(app)

    api = ProblemApi(app, spec_kwargs={"extra_plugins": [PipelineDocs(settings.rate_limits)]})
    app.extensions["plugboard.api"] = api
    _register_kernel_routes(app, api)
    _init_plugins(app, api, settings, extra_plugins, load_builtin, load_entry_points)
    _init_error_handlers(app)
    idempotency.init_app(app)  # wraps every POST view: last, once all routes exist

    from kernel.cli import register_commands

    register_commands(app)
    return app


def _register_kernel_routes(app: Flask, api: ProblemApi) -> None:
    from kernel.routes import admin, admin_jobs, auth, bundles, health, keys, plugins, public, tenant

    health.init_app(app)
    for blueprint in (auth.blp, tenant.blp, keys.blp, admin.blp, plugins.blp, plugins.admin_blp,
                      admin_jobs.blp, public.blp, bundles.blp, bundles.admin_blp, bundles.files_blp):
        api.register_blueprint(blueprint)


def _init_plugins(app: Flask, api: ProblemApi, settings: Settings, extra: list[Any],
                  load_builtin: bool, load_entry_points: bool) -> None:
    from kernel import plugin_web
    from kernel.routes.health import readiness_checks

    registry = PluginRegistry(settings.plugins_allow, settings.plugins_deny)
    candidates: list[Candidate] = []
    if load_builtin:
        candidates += builtin_candidates()
    if load_entry_points:
        candidates += entry_point_candidates()
    candidates += [Candidate(_plugin_name(obj), "app", functools.partial(_same, obj)) for obj in extra]
    registry.load(candidates)
    broadcast = app.extensions["plugboard.broadcast"]
    activations = Activations(registry, broadcast, app.extensions["plugboard.secrets"])
    app.extensions.update({
        "plugboard.registry": registry,
        "plugboard.activations": activations,
        "plugboard.guard": plugin_web.run_guards,
    })
    plugin_web.install(app, api, registry)
    registry.freeze()
    jobs = Jobs(app, settings.redis_url, settings.redis_namespace)
    for spec in (*kernel_job_specs(), *events.kernel_job_specs(), *mail_jobs.kernel_job_specs(),
                 *idempotency.kernel_job_specs()):
        jobs.register_kernel(spec)
    app.extensions["plugboard.jobs_runner"] = jobs
    readiness_checks(app)["plugins"] = functools.partial(_plugins_health, registry)


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
    @app.before_request
    def _check_content_type() -> None:
        if request.method not in BODY_METHODS:
            return
        expected = _expected_body_types(app, request.endpoint)
        has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
        if expected is None or not has_body:
            return
        mimetype = request.mimetype
        if mimetype in expected or (mimetype.endswith("+json") and "application/json" in expected):
            return
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(sorted(set(expected)))} "
            f"(got {mimetype or 'no Content-Type'})."
        )

    @app.before_request
    def _refuse_nul_in_path() -> None:
        # PostgreSQL text cannot hold U+0000. Bodies and query strings are checked where
        # they are parsed, after authentication and the route's size limit (kernel.json_limits).
        if any(NUL in str(value) for value in (request.view_args or {}).values()):
            raise NotFound()

    @app.teardown_request
    def _close_scope(exc: BaseException | None) -> None:
        from flask import g

        token = g.pop("scope_token", None)
        if token is not None:
            leave_scope(token)
        if exc is not None:
            db.session.rollback()


def _init_error_handlers(app: Flask) -> None:
    # Registered after flask-smorest's own handler so ours wins for every HTTP error.
    app.register_error_handler(HTTPException, problem_response)
