"""The public edge: storefront GETs a plugin answers from memory, ahead of Flask's request cycle.

A warm storefront fetch is a few dict look-ups; Flask's request cycle around it (request
context, session, every app-level hook, view wrappers) costs several times more. The
edge answers such GETs before that cycle, admitting the request through the same
sequence as the public route gate (:func:`kernel.registry.gates.admit_public`: tenant from
Host or X-Tenant, active, plugin enabled), from memory only, and doing the request's
observability (X-Request-ID, metrics, access log line). It runs without an application
context. Anything else -- a responder that returns None, a tenant or activation not
cached yet (:data:`~kernel.tenancy.directory.COLD`), an unknown tenant, a disabled plugin,
a URL Flask would redirect or refuse -- goes through Flask unchanged, which gives the
authoritative answer (and warms the caches).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask import Flask
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from kernel.registry.gates import admit_public
from kernel.registry.registrations import Registration
from kernel.services import KernelServices, kernel_services
from kernel.tenancy.directory import TenantInfo
from kernel.web import cors, security_headers
from kernel.web.observability import finish_request, new_request_id
from kernel.web.ratelimits import edge_headers

log = logging.getLogger("plugboard.plugins")
PUBLIC_PREFIX = cors.PUBLIC_PREFIX
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
    kernel_services(app).public_responders[plugin] = responder


def install_edge(app: Flask, installed: Mapping[str, Registration]) -> None:
    """Put the edge in front of ``app.wsgi_app`` when an installed plugin added a responder.

    Called by ``create_app`` before any WSGI middleware (ProxyFix) wraps the app, so the
    edge sees the request as Flask does.
    """
    services = kernel_services(app)
    responders = {p: r for p, r in services.public_responders.items() if p in installed}
    if not responders:
        return
    owners = {bp: name for name in responders for bp in installed[name].public_blueprint_names()}
    app.wsgi_app = PublicEdge(app, app.wsgi_app, responders, owners)  # type: ignore[method-assign]


class PublicEdge:
    """WSGI: serve public GETs that a plugin's responder answers from memory."""

    def __init__(self, app: Flask, wsgi_app: Any, responders: dict[str, Responder],
                 owners: dict[str, str]) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.services: KernelServices = kernel_services(app)
        self.responders, self.owners = responders, owners
        # path -> (rule, arguments) of URL map matches: the match is a quarter of the edge's
        # work. Only valid while the map ignores the host, as the kernel's does.
        self._routes: dict[str, tuple[Rule, Mapping[str, Any]]] = {}
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
            admitted = admit_public(self.services, req, plugin, memory_only=True)
            if not isinstance(admitted, TenantInfo):  # cold cache or refused: Flask's to answer
                return None
            rule, args = self._match(req)
        except HTTPException:  # not found, wrong method, redirect, untrusted host: Flask's to say
            return None
        if self.owners.get(str(rule.endpoint).rpartition(".")[0]) != plugin:
            return None
        limited = edge_headers(self.app, req)  # None: over the limit, Flask answers the 429
        if limited is None:
            return None
        answer = self._respond(responder, plugin, admitted.id, str(rule.endpoint), args, req)
        if answer is None:
            return None
        return self._send(req, rule.rule, answer, started, start_response, plugin, limited)

    @staticmethod
    def _respond(responder: Responder, plugin: str, tenant_id: uuid.UUID, endpoint: str,
                 args: Mapping[str, Any], req: Any) -> EdgeResponse | None:
        try:
            return responder(tenant_id, endpoint, dict(args), req.headers)
        except Exception:  # a broken responder must not 500: the full request answers
            log.exception("public edge fell back to the full request", extra={"plugin": plugin})
            return None

    def _match(self, req: Any) -> tuple[Rule, Mapping[str, Any]]:
        """Flask's URL map match for a GET of ``req.path`` (raises what the map raises)."""
        found = self._routes.get(req.path)
        if found is not None:
            return found
        adapter = self.app.create_url_adapter(req)
        assert adapter is not None  # a request always gets an adapter
        rule, args = adapter.match(return_rule=True)
        if self._cache_routes:
            if len(self._routes) >= ROUTES_CACHED:
                self._routes.clear()  # bounded: any path matches <path:...> routes
            self._routes[req.path] = (rule, args)
        return rule, args

    def _send(self, req: Any, rule: str, answer: EdgeResponse, started: float,
              start_response: Any, plugin: str, extra: list[tuple[str, str]]) -> list[bytes]:
        request_id = new_request_id(req.headers.get("X-Request-ID"))
        present = {name.lower() for name, _ in answer.headers}
        mimetype = dict((n.lower(), v) for n, v in answer.headers).get("content-type", "")
        extra = [*extra, *security_headers.headers_for(mimetype.split(";")[0].strip(),
                                                       req.scheme == "https")]
        headers = [*answer.headers, ("X-Request-ID", request_id)]
        headers += [(name, value) for name, value in extra if name.lower() not in present]
        headers += [(name, value) for name, value in cors.RESPONSE_HEADERS if name.lower() not in present]
        if answer.status != 304:
            headers.append(("Content-Length", str(len(answer.body))))
        status = HTTPStatus(answer.status)
        start_response(f"{status.value} {status.phrase}", headers)
        finish_request(self.services.metrics, "GET", rule, req.path,
                       answer.status, started, request_id, plugin)
        return [answer.body] if answer.status != 304 else []
