"""Wiring loaded plugins into the app: routes (gated per tenant), permissions, jobs, events.

Every blueprint a plugin registers gets a ``before_request`` gate from the kernel, so
plugin code never checks activation itself:

* tenant routes (``/api/v1/<plugin>``): authenticate, open the tenant scope, 404
  ``plugin-not-enabled`` when the tenant has not enabled the plugin, run request guards;
* public routes (``/api/v1/public/<plugin>``): resolve the tenant from Host or
  ``X-Tenant``, open its scope, same 404;
* webhooks (``/api/v1/webhooks/<plugin>``): when the rule has a ``<tenant>`` segment, the
  tenant is resolved by slug and gated the same way;
* platform admin routes (``/api/v1/admin/<plugin>``): platform admins only (tenants' staff
  get 403), in the platform scope.

Public GETs a plugin can answer from memory (a storefront's published pages) may skip
Flask's request cycle altogether: see :class:`PublicEdge` and :func:`add_public_responder`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from hookspecs import EventHandler, JobSpec, PluginRefusal
from kernel import cors
from kernel.activation import Activations
from kernel.auth import authenticate, open_scope_for, require_platform_admin
from kernel.errors import problem
from kernel.observability import finish_request, new_request_id
from kernel.rbac import ROLES
from kernel.registry import PluginRecord, PluginRegistry
from kernel.routes.public import public_tenant
from kernel.tenancy import enter_tenant_scope

KINDS = {
    "plugboard_blueprints": "/api/v1/{name}",
    "plugboard_public_blueprints": "/api/v1/public/{name}",
    "plugboard_webhook_blueprints": "/api/v1/webhooks/{name}",
    "plugboard_admin_blueprints": "/api/v1/admin/{name}",
}
#: segments of the kernel's own /api/v1/admin routes: no plugin's admin routes there
KERNEL_ADMIN_SEGMENTS = frozenset({"tenants", "plugins", "audit-log", "jobs"})


def _not_enabled(name: str) -> None:
    problem(404, "plugin-not-enabled", title="Plugin not enabled",
            detail=f"The plugin {name!r} is not enabled for this tenant.", plugin=name)


def run_guards(tenant_id: uuid.UUID) -> None:
    """Let the tenant's enabled plugins refuse the current request (once per request)."""
    if g.get("guards_ran"):
        return
    g.guards_ran = True
    app = current_app
    activations: Activations = app.extensions["plugboard.activations"]
    guards: frozenset[str] = app.extensions["plugboard.guard_plugins"]
    if not guards:
        return
    enabled = activations.snapshot.enabled(tenant_id)
    if not guards & enabled:
        return
    hook = activations.registry.hook_for(enabled, "plugboard_request_guard")
    try:
        hook(tenant_id=tenant_id, endpoint=request.endpoint or "", method=request.method)
    except PluginRefusal as refusal:
        problem(refusal.status, refusal.type_, title="Request refused", detail=refusal.reason)


def _tenant_gate(name: str) -> Callable[[], None]:
    def gate() -> None:
        principal = authenticate()
        open_scope_for(principal)
        assert principal.tenant_id is not None
        if not current_app.extensions["plugboard.activations"].is_enabled(principal.tenant_id, name):
            _not_enabled(name)
        run_guards(principal.tenant_id)

    return gate


def _enter(name: str, tenant_id: uuid.UUID) -> None:
    if "scope_token" not in g:
        g.scope_token = enter_tenant_scope(tenant_id)
    if not current_app.extensions["plugboard.activations"].is_enabled(tenant_id, name):
        _not_enabled(name)


def _public_gate(name: str) -> Callable[[], None]:
    def gate() -> None:
        info = public_tenant()
        g.public_tenant = info
        _enter(name, info.id)

    return gate


def _webhook_gate(name: str) -> Callable[[], None]:
    def gate() -> None:
        slug = (request.view_args or {}).get("tenant")
        if slug is None:
            return  # the plugin identifies the tenant itself, then calls enter_tenant()
        info = current_app.extensions["plugboard.tenants"].by_slug(str(slug))
        if info is None or info.status != "active":
            problem(404, "unknown-tenant", title="Unknown tenant", detail="No such tenant.")
        g.public_tenant = info
        _enter(name, info.id)

    return gate


def _admin_gate(name: str) -> Callable[[], None]:
    def gate() -> None:
        require_platform_admin()  # tenants' staff get 403; runs in the platform scope

    return gate


GATES = {
    "plugboard_blueprints": _tenant_gate,
    "plugboard_public_blueprints": _public_gate,
    "plugboard_webhook_blueprints": _webhook_gate,
    "plugboard_admin_blueprints": _admin_gate,
}


def enter_tenant(plugin: str, tenant_id: uuid.UUID) -> None:
    """For webhook views that find the tenant in the payload: scope and gate it."""
    _enter(plugin, tenant_id)


def _collect(app: Flask, registry: PluginRegistry, record: PluginRecord) -> dict[str, Any]:
    """Everything one plugin registers, validated before anything is installed."""
    name = record.name
    out: dict[str, Any] = {"blueprints": []}
    for hook, prefix_tpl in KINDS.items():
        prefix = prefix_tpl.format(name=name)
        if hook == "plugboard_admin_blueprints" and name in KERNEL_ADMIN_SEGMENTS:
            raise ValueError(f"{hook}: {prefix!r} is the kernel's; rename plugin {name!r}")
        for group in registry.call_plugin(name, hook, app=app):
            for bp in group or ():
                url_prefix = getattr(bp, "url_prefix", None) or ""
                if url_prefix != prefix and not url_prefix.startswith(prefix + "/"):
                    raise ValueError(
                        f"{hook}: blueprint {bp.name!r} has url_prefix {url_prefix!r}; plugin "
                        f"{name!r} must serve these routes under {prefix!r}"
                    )
                out["blueprints"].append((hook, bp))
    out["jobs"] = [j for group in registry.call_plugin(name, "plugboard_jobs") for j in group or ()]
    for job in out["jobs"]:
        if not isinstance(job, JobSpec) or not job.name.startswith(name + "."):
            raise ValueError(f"plugboard_jobs: {job!r} must be a JobSpec named '{name}.<job>'")
    out["events"] = [
        e for group in registry.call_plugin(name, "plugboard_event_handlers") for e in group or ()
    ]
    for handler in out["events"]:
        if not isinstance(handler, EventHandler):
            raise ValueError(f"plugboard_event_handlers: {handler!r} is not an EventHandler")
    perms = dict(record.info.permissions) if record.info else {}
    for group in registry.call_plugin(name, "plugboard_permissions"):
        perms.update(group or {})
    for perm, role in perms.items():
        if not perm.startswith(name + "."):
            raise ValueError(f"plugboard_permissions: {perm!r} must start with '{name}.'")
        if role not in ROLES:
            raise ValueError(f"plugboard_permissions: {perm!r} names unknown role {role!r}; "
                             f"use one of {', '.join(ROLES)}")
    out["permissions"] = perms
    out["components"] = [
        dict(c, plugin=name)
        for group in registry.call_plugin(name, "plugboard_page_components") for c in group or ()
    ]
    if record.info and record.info.migrations and not Path(record.info.migrations).is_dir():
        raise ValueError(f"PluginInfo.migrations {record.info.migrations!r} is not a folder")
    return out


def _check_names(app: Flask, found: dict[str, Any], taken: set[str]) -> None:
    for _, bp in found["blueprints"]:
        if bp.name in app.blueprints or bp.name in taken:
            raise ValueError(f"blueprint name {bp.name!r} is already used; prefix it with the plugin name")
        taken.add(bp.name)


def install(app: Flask, api: Any, registry: PluginRegistry) -> None:
    """Install every loaded plugin's registrations; a plugin that fails is left out."""
    collected: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    for record in registry.loaded():
        try:
            found = _collect(app, registry, record)
            _check_names(app, found, taken)
            collected[record.name] = found
        except Exception as exc:
            registry.unload(record.name, f"registration failed: {type(exc).__name__}: {exc}")
    registry._resolve_dependencies()  # a dropped plugin drops its dependents too
    jobs: dict[str, tuple[str, JobSpec]] = app.extensions.setdefault("plugboard.jobs", {})
    events: dict[str, list[tuple[str, EventHandler]]] = app.extensions.setdefault(
        "plugboard.event_handlers", {})
    components: list[dict[str, Any]] = app.extensions.setdefault("plugboard.page_components", [])
    migration_dirs: list[str] = app.extensions.setdefault("plugboard.migration_dirs", [])
    gates: dict[str, Callable[[], None]] = {}
    for record in registry.loaded():
        found = collected[record.name]
        for hook, bp in found["blueprints"]:
            api.register_gated_blueprint(bp)
            gates[bp.name] = GATES[hook](record.name)
        for perm, role in found["permissions"].items():
            app.extensions["plugboard.permissions"].register(perm, role)
        for job in found["jobs"]:
            jobs[job.name] = (record.name, job)
        for handler in found["events"]:
            events.setdefault(handler.event, []).append((record.name, handler))
        components.extend(found["components"])
        if record.info and record.info.migrations:
            migration_dirs.append(record.info.migrations)
    app.extensions["plugboard.guard_plugins"] = registry.implementers("plugboard_request_guard")
    _install_edge(app, registry, collected)

    # One app-level hook rather than one per blueprint: blueprints are module globals that
    # may be registered on many apps, and Flask forbids changing them after registration.
    @app.before_request
    def _gate_plugin_routes() -> None:
        gate = gates.get(request.blueprint or "")
        if gate is not None:
            gate()



# -- the public edge -------------------------------------------------------------------
#
# A warm storefront fetch is a few dict look-ups; Flask's request cycle around it (request
# context, session, every app-level hook, view wrappers) costs several times more. The
# edge answers such GETs before that cycle, doing the kernel's part the same way the
# gate does (tenant from Host or X-Tenant, active, plugin enabled) and the request's
# observability (X-Request-ID, metrics, access log line). It runs without an application
# context: it only reads in-process caches. Anything else -- a responder that returns
# None, a tenant or activation not cached yet, an unknown tenant, a disabled plugin, a
# URL Flask would redirect or refuse -- goes through Flask unchanged, which gives the
# authoritative answer (and warms the caches).

log = logging.getLogger("plugboard.plugins")
PUBLIC_PREFIX = cors.PUBLIC_PREFIX
RESPONDERS = "plugboard.public_responders"
ROUTES_CACHED = 4096  # URL map matches the public edge remembers per process


@dataclass(frozen=True)
class EdgeResponse:
    """What a public responder answers: a status (200 or 304), headers and a body."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes = b""


#: ``responder(tenant_id, endpoint, view_args, headers)``: an answer from memory, or None
Responder = Callable[[uuid.UUID, str, Mapping[str, Any], Headers], EdgeResponse | None]


def add_public_responder(app: Flask, plugin: str, responder: Responder) -> None:
    """Let ``plugin`` answer GETs of its public routes from memory, ahead of Flask.

    Called only for an active tenant that has ``plugin`` enabled, with the endpoint and
    URL arguments Flask would dispatch to. It must not touch the database or raise; it
    returns None whenever it cannot answer, and the request takes the normal way.

    .. versionadded:: 1.0
    """
    app.extensions.setdefault(RESPONDERS, {})[plugin] = responder


def _install_edge(app: Flask, registry: PluginRegistry, collected: dict[str, dict[str, Any]]) -> None:
    loaded = registry.names()
    responders = {p: r for p, r in app.extensions.get(RESPONDERS, {}).items() if p in loaded}
    if not responders:
        return
    owners = {bp.name: name for name in responders for hook, bp in collected[name]["blueprints"]
              if hook == "plugboard_public_blueprints"}
    holder: Any = app
    attr = "wsgi_app"
    while hasattr(getattr(holder, attr), "app"):  # inside middlewares (ProxyFix): see what Flask sees
        holder, attr = getattr(holder, attr), "app"
    setattr(holder, attr, PublicEdge(app, getattr(holder, attr), responders, owners))


class PublicEdge:
    """WSGI: serve public GETs that a plugin's responder answers from memory."""

    def __init__(self, app: Flask, wsgi_app: Any, responders: dict[str, Responder],
                 owners: dict[str, str]) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.responders, self.owners = responders, owners
        # path -> (rule, arguments) of URL map matches: the match is a quarter of the edge's
        # work. Only valid while the map ignores the host, as the kernel's does.
        self._routes: dict[str, tuple[Any, Mapping[str, Any]]] = {}
        self._cache_routes = not (app.url_map.host_matching or app.config.get("SERVER_NAME")
                                  or app.config.get("TRUSTED_HOSTS"))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and path.startswith(PUBLIC_PREFIX):
            plugin = path[len(PUBLIC_PREFIX):].split("/", 1)[0]
            responder = self.responders.get(plugin)
            if responder is not None:
                answered = self._answer(environ, plugin, responder, start_response)
                if answered is not None:
                    return answered
        return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]

    def _answer(self, environ: dict[str, Any], plugin: str, responder: Responder,
                start_response: Any) -> list[bytes] | None:
        started = time.perf_counter()
        req = self.app.request_class(environ)
        try:
            info = self.app.extensions["plugboard.tenants"].for_public_request(req)
            if info is None or not self.app.extensions["plugboard.activations"].is_enabled(info.id, plugin):
                return None
            rule, args = self._match(req)
            if self.owners.get(rule.endpoint.rpartition(".")[0]) != plugin:
                return None
            answer = responder(info.id, rule.endpoint, dict(args), req.headers)
        except HTTPException:  # not found, wrong method, redirect: Flask's to say
            return None
        except RuntimeError:  # a cold tenant or activation cache needs the database: Flask's job
            return None
        except Exception:  # a broken responder must not 500
            log.exception("public edge fell back to the full request", extra={"plugin": plugin})
            return None
        if answer is None:
            return None
        return self._send(req, rule.rule, answer, started, start_response)

    def _match(self, req: Any) -> tuple[Any, Mapping[str, Any]]:
        """Flask's URL map match for a GET of ``req.path`` (raises what the map raises)."""
        found = self._routes.get(req.path)
        if found is not None:
            return found
        rule, args = self.app.create_url_adapter(req).match(return_rule=True)  # type: ignore[union-attr]
        if self._cache_routes:
            if len(self._routes) >= ROUTES_CACHED:
                self._routes.clear()  # bounded: any path matches <path:...> routes
            self._routes[req.path] = (rule, args)
        return rule, args

    def _send(self, req: Any, rule: str, answer: EdgeResponse, started: float,
              start_response: Any) -> list[bytes]:
        request_id = new_request_id(req.headers.get("X-Request-ID"))
        headers = [*answer.headers, ("X-Request-ID", request_id)]
        present = {name.lower() for name, _ in answer.headers}
        headers += [(name, value) for name, value in cors.RESPONSE_HEADERS if name.lower() not in present]
        if answer.status != 304:
            headers.append(("Content-Length", str(len(answer.body))))
        status = HTTPStatus(answer.status)
        start_response(f"{status.value} {status.phrase}", headers)
        finish_request(self.app.extensions["plugboard.metrics"], "GET", rule, req.path,
                       answer.status, started, request_id)
        return [answer.body] if answer.status != 304 else []
