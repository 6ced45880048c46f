"""Proving a webhook came from Twilio or Vapi, in constant time.

Twilio signs the URL it called plus the POSTed form fields with the tenant's auth token
(``X-Twilio-Signature``); twilio's own ``RequestValidator`` checks it. The URL must be
the public one Twilio called: behind a reverse proxy, set ``PLUGBOARD_TRUSTED_PROXIES``
so the kernel rebuilds scheme and host from ``X-Forwarded-Proto``/``-Host`` (werkzeug's
ProxyFix) before this runs.

Vapi authenticates its server messages in one of the ways its custom credentials offer;
the tenant's ``vapi.webhook_secret`` is accepted as any of them:

* ``X-Vapi-Secret: <secret>`` (the server URL secret);
* ``Authorization: Bearer <secret>`` (a Bearer Token credential);
* an HMAC credential (SHA-256, hex): ``X-Signature`` over ``<X-Timestamp>.<body>``, or
  over the body alone when no timestamp is sent; a timestamp older than five minutes is
  refused (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from twilio.request_validator import RequestValidator

MAX_SKEW = 300  # seconds a signed Vapi timestamp may be off


def twilio_valid(auth_token: str, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """``signature`` is Twilio's for ``url`` and ``form`` (RequestValidator compares safely)."""
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(form), signature))


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _timestamp_fresh(stamp: str, now: float) -> bool:
    try:
        value = float(stamp)
    except ValueError:
        return False
    if value > 1e11:  # milliseconds
        value /= 1000
    return abs(now - value) <= MAX_SKEW


def vapi_valid(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> bool:
    """The request carries ``secret`` (header or Bearer) or a valid HMAC of ``body``."""
    if not secret:
        return False
    given = headers.get("X-Vapi-Secret")
    if given is not None:
        return _same(given, secret)
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return _same(auth[7:].strip(), secret)
    signature = headers.get("X-Signature") or headers.get("X-Vapi-Signature")
    if not signature:
        return False
    stamp = headers.get("X-Timestamp")
    if stamp is not None and not _timestamp_fresh(stamp, time.time() if now is None else now):
        return False
    signed = (stamp.encode() + b"." + body) if stamp is not None else body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return _same(signature.removeprefix("sha256=").lower(), expected)
