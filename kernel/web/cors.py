"""Cross-origin access to the public API (``/api/v1/public/``), for storefronts in browsers.

A storefront on its own origin (``https://shop.example``) that fetches published content
with ``X-Tenant`` makes the browser send a CORS preflight first: ``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``, and no ``X-Tenant``. The kernel answers
it here, before any tenant or plugin gate (which would refuse a request that names no
tenant), and adds the CORS response headers to every public answer, errors included, so
a storefront can read a 404 problem as well as a page.

The public API is credential-free (no cookies, no tokens), so any origin may read it:
``Access-Control-Allow-Origin: *``. The authenticated API sends no CORS headers; its
clients are servers or same-origin admin front-ends.
"""

from __future__ import annotations

from flask import Flask, Request, Response, request
from werkzeug.exceptions import HTTPException

from kernel.request_hooks import Globals, request_hooks

PUBLIC_PREFIX = "/api/v1/public/"
# request headers a storefront may send (beyond the CORS-safelisted ones)
ALLOWED_HEADERS = ("Content-Type, Idempotency-Key, If-Modified-Since, If-None-Match, X-Request-ID, "
                   "X-Tenant")
# response headers a storefront's script may read (beyond the CORS-safelisted ones)
EXPOSED_HEADERS = "ETag, Idempotent-Replayed, RateLimit, RateLimit-Policy, Retry-After, X-Request-ID"
PREFLIGHT_MAX_AGE = 86400

#: added to every response under ``/api/v1/public/`` (the public edge adds them too)
RESPONSE_HEADERS = (("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Expose-Headers", EXPOSED_HEADERS))


def is_preflight() -> bool:
    return (request.method == "OPTIONS" and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers)


def init_app(app: Flask) -> None:
    hooks = request_hooks(app)

    @hooks.before
    def _answer_preflight(req: Request, _g: Globals) -> Response | None:
        if not (req.path.startswith(PUBLIC_PREFIX) and is_preflight()):
            return None
        try:  # the methods the route allows; an unknown path is Flask's 404 as usual
            methods = app.create_url_adapter(req).allowed_methods()  # type: ignore[union-attr]
        except HTTPException:
            return None
        if not methods:
            return None
        response = Response(status=204)
        del response.headers["Content-Type"]  # no body, no type
        response.headers.update(RESPONSE_HEADERS)
        response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(methods))
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response

    @hooks.after
    def _public_cors_headers(req: Request, _g: Globals, response: Response) -> Response:
        if req.path.startswith(PUBLIC_PREFIX):
            for name, value in RESPONSE_HEADERS:
                response.headers.setdefault(name, value)
        return response
