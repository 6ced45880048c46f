"""Rate limits of the API: per API key, per user or per client IP, per route class.

Every request under ``/api/v1/`` and ``/bundles/`` is counted before anything else
touches it (right after the CORS preflight), in one of five route classes, each with its
own limits (settings ``PLUGBOARD_RATE_LIMIT_<CLASS>``, in the ``limits`` library's
notation, e.g. ``600/minute`` or ``10/second;600/minute``):

==========  ===========================================================================
``auth``    ``/api/v1/auth/…`` and the storefront's ``/api/v1/public/account/…``
``webhook`` ``/api/v1/webhooks/…``
``public``  GET/HEAD of ``/api/v1/public/…`` and bundle files
``read``    other GET/HEAD (authenticated reads)
``write``   every other POST, PUT, PATCH, DELETE
==========  ===========================================================================

Who is counted: the API key or user of a valid ``Authorization`` header on the
authenticated API; the client IP otherwise (storefront, webhooks, auth routes, a missing
or bad credential). Counting a verified identity only means nobody can spend someone
else's allowance by sending their key's prefix.

Over the limit: 429 problem+json ``rate-limited`` with ``Retry-After``. Every counted
answer carries the IETF ``RateLimit-Policy`` and ``RateLimit`` fields
(draft-ietf-httpapi-ratelimit-headers: ``"write";q=300;w=60`` and ``"write";r=299;t=42``).
Counters live in Redis when ``PLUGBOARD_REDIS_URL`` is set (shared by every process),
in memory otherwise. Windows are fixed and aligned to the clock (a minute's window starts
at each full minute): one increment per request and limit (one Redis round trip), which
also tells the remaining count and the seconds to the window's end, so the fields cost
nothing more. The price is the fixed window's: a client may spend two windows' worth
across a boundary. If the counters cannot be reached, requests are served uncounted.
``PLUGBOARD_RATE_LIMITS=off`` switches it all off (benchmarks, trusted networks).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import limits
from flask import Flask, Request, Response, request
from limits.storage import MemoryStorage, RedisStorage, Storage
from werkzeug.exceptions import HTTPException

from kernel.config import RATE_LIMIT_CLASSES, Settings
from kernel.problems import problem
from kernel.request_hooks import Globals, request_hooks
from kernel.services import kernel_services

log = logging.getLogger("plugboard.ratelimits")
SAFE_METHODS = frozenset({"GET", "HEAD"})
AUTH_PREFIXES = ("/api/v1/auth/", "/api/v1/public/account/")
IP_ONLY_PREFIXES = ("/api/v1/public/", "/api/v1/webhooks/", "/api/v1/auth/", "/bundles/")


def route_class(path: str, method: str) -> str | None:
    """The route class a request counts against; None for what is not rate limited
    (health, metrics, the OpenAPI document and docs, automatic OPTIONS)."""
    if method == "OPTIONS":
        return None
    if path.startswith(AUTH_PREFIXES):
        return "auth"
    if path.startswith("/api/v1/webhooks/"):
        return "webhook"
    public = path.startswith(("/api/v1/public/", "/bundles/"))
    if not public and not path.startswith("/api/v1/"):
        return None
    if method in SAFE_METHODS:
        return "public" if public else "read"
    return "write"


@dataclass(frozen=True)
class Verdict:
    """One request's count: allowed or not, the headers to send, seconds to wait."""

    allowed: bool
    headers: list[tuple[str, str]]
    retry_after: int


class RateLimits:
    """The limits of each route class and the counters (``kernel_services().rate_limits``)."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(settings.redis_url,
                                   key_prefix=f"{settings.redis_namespace}:ratelimit")
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._items = {name: limits.parse_many(getattr(settings, f"rate_limit_{name}"))
                       for name in RATE_LIMIT_CLASSES}
        self._names = {name: _policy_names(name, len(items)) for name, items in self._items.items()}
        self._policy = {name: ", ".join(
            f'"{label}";q={item.amount};w={item.get_expiry()}'
            for label, item in zip(self._names[name], items, strict=True))
            for name, items in self._items.items()}

    def hit(self, klass: str, identity: str) -> Verdict:
        """Count one request of ``identity`` against ``klass``'s limits."""
        now = time.time()
        counts = []
        try:
            for label, item in zip(self._names[klass], self._items[klass], strict=True):
                window = item.get_expiry()
                index = int(now // window)
                count = self._storage.incr(item.key_for(klass, identity, str(index)), window)
                passed = count <= item.amount
                counts.append((passed, max(0, item.amount - count),
                               max(1, math.ceil((index + 1) * window - now)), label))
        except Exception:  # counters unreachable (Redis down): serve rather than refuse all
            log.warning("rate limit counters unavailable; request not counted", exc_info=True)
            return Verdict(True, [], 0)
        # the field reports the policy nearest to exhaustion, a refusing one first
        passed, remaining, wait, label = min(counts, key=lambda count: (count[0], count[1]))
        allowed = all(count[0] for count in counts)
        headers = [("RateLimit-Policy", self._policy[klass]),
                   ("RateLimit", f'"{label}";r={remaining};t={wait}')]
        return Verdict(allowed, headers, max(1, wait))


def _policy_names(klass: str, count: int) -> list[str]:
    return [klass] if count == 1 else [f"{klass}-{i + 1}" for i in range(count)]


def _identity(path: str) -> str:
    """Who a request counts as: its verified API key or user, else its client IP."""
    ip = "ip:" + (request.remote_addr or "unknown")
    if path.startswith(IP_ONLY_PREFIXES) or "Authorization" not in request.headers:
        return ip
    from kernel.identity.auth import authenticate

    try:  # the view authenticates again from g.principal: no second look-up
        principal = authenticate()
    except HTTPException:  # the route itself answers the bad credential
        return ip
    return f"{principal.kind}:{principal.actor_id}"


def _refuse(verdict: Verdict) -> None:
    problem(429, "rate-limited", title="Too many requests",
            detail=f"Rate limit reached; try again in {verdict.retry_after} seconds.",
            headers=dict([*verdict.headers, ("Retry-After", str(verdict.retry_after))]))


def edge_headers(app: Flask, req: Any) -> list[tuple[str, str]] | None:
    """For the public edge: count a storefront GET; its headers, or None when refused
    (the request then takes Flask's way, which answers the 429)."""
    rate_limits: RateLimits = kernel_services(app).rate_limits
    if not rate_limits.enabled:
        return []
    verdict = rate_limits.hit("public", "ip:" + (req.remote_addr or "unknown"))
    return verdict.headers if verdict.allowed else None


def init_app(app: Flask, settings: Settings) -> None:
    rate_limits = RateLimits(settings)
    kernel_services(app).rate_limits = rate_limits
    if not rate_limits.enabled:
        return

    hooks = request_hooks(app)

    @hooks.before
    def _count_request(req: Request, g: Globals) -> None:
        klass = route_class(req.path, req.method)
        if klass is None:
            return
        verdict = rate_limits.hit(klass, _identity(req.path))
        g.ratelimit_headers = verdict.headers
        if not verdict.allowed:
            _refuse(verdict)

    @hooks.after
    def _ratelimit_headers(_req: Request, g: Globals, response: Response) -> Response:
        for name, value in g.get("ratelimit_headers", ()):
            response.headers.setdefault(name, value)
        return response
