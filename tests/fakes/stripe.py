"""A fake Stripe API: PaymentIntents (create, retrieve, confirm, cancel), refunds, events.

Enough of https://docs.stripe.com/api for the official ``stripe`` SDK, pointed here with
``StripeClient(base_addresses={"api": url})``, to work unchanged: form-encoded requests
(``metadata[payment_id]=…``), JSON answers, Stripe's error shape, ``Idempotency-Key``
replays (same key, same answer, nothing created twice). Webhook events are built from
the fake's own objects and signed with Stripe's real scheme
(``t=<ts>,v1=HMAC-SHA256(secret, "<ts>.<payload>")``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from typing import Any

from werkzeug.wrappers import Request, Response

ZERO_DECIMAL = frozenset({"jpy", "krw", "vnd", "clp", "xof", "xaf"})


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def _nest(form: dict[str, str]) -> dict[str, Any]:
    """``{"metadata[a]": "1"}`` -> ``{"metadata": {"a": "1"}}`` (Stripe's form encoding)."""
    out: dict[str, Any] = {}
    for key, value in form.items():
        parts = re.findall(r"[^\[\]]+", key)
        here = out
        for part in parts[:-1]:
            here = here.setdefault(part, {})
        here[parts[-1]] = value
    return out


class FakeStripe:
    """The fake's state and its WSGI app. ``calls`` records (method, path, idempotency key)."""

    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, str | None]] = []
        self._replays: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.intents.clear()
            self.refunds.clear()
            self.calls.clear()
            self._replays.clear()

    # -- what tests do to the provider's side -----------------------------------------------

    def succeed(self, intent_id: str) -> dict[str, Any]:
        """The payer paid (as confirming with a good card would)."""
        intent = self.intents[intent_id]
        intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
        return intent

    def set_status(self, intent_id: str, status: str) -> dict[str, Any]:
        self.intents[intent_id]["status"] = status
        return self.intents[intent_id]

    def event(self, type_: str, obj: dict[str, Any], event_id: str | None = None,
              created: int | None = None) -> str:
        """A webhook event's JSON body, as Stripe posts it."""
        return json.dumps({
            "id": event_id or f"evt_{secrets.token_hex(12)}", "object": "event",
            "api_version": "2025-01-27",
            "created": created or int(time.time()), "type": type_, "livemode": False,
            "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        })

    def dispute(self, intent_id: str, amount: int | None = None,
                status: str = "needs_response") -> dict[str, Any]:
        intent = self.intents[intent_id]
        return {"id": f"dp_{secrets.token_hex(8)}", "object": "dispute", "payment_intent": intent_id,
                "charge": f"ch_{intent_id[3:]}", "amount": amount or intent["amount"],
                "currency": intent["currency"], "reason": "fraudulent", "status": status}

    # -- the HTTP API --------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            self.calls.append((request.method, request.path, key))
            if not request.headers.get("Authorization", "").startswith("Bearer sk_test_"):
                status, body = 401, _error("invalid_request_error", "Invalid API Key provided.")
            elif key and (request.path, key) in self._replays:
                status, body = self._replays[(request.path, key)]
            else:
                status, body = self._route(request, _nest(request.form.to_dict()))
                if key and request.method == "POST":
                    self._replays[(request.path, key)] = (status, body)
        return Response(json.dumps(body), status, content_type="application/json",
                        headers={"Request-Id": f"req_{secrets.token_hex(6)}"})(environ, start_response)

    def _route(self, request: Request, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        path, method = request.path.rstrip("/"), request.method
        if path == "/v1/payment_intents" and method == "POST":
            return self._create(form)
        match = re.fullmatch(r"/v1/payment_intents/(pi_\w+)(/confirm|/cancel)?", path)
        if match:
            intent = self.intents.get(match.group(1))
            if intent is None:
                return 404, _error("invalid_request_error", "No such payment_intent", "resource_missing")
            if match.group(2) == "/confirm" and method == "POST":
                return self._confirm(intent, form)
            if match.group(2) == "/cancel" and method == "POST":
                intent["status"] = "canceled"
            return 200, intent
        if path == "/v1/refunds" and method == "POST":
            return self._refund(form)
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def _create(self, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            amount = int(form["amount"])
        except (KeyError, ValueError):
            return 400, _error("invalid_request_error", "Missing required param: amount.",
                               "parameter_missing")
        intent_id = f"pi_{secrets.token_hex(12)}"
        self.intents[intent_id] = intent = {
            "id": intent_id, "object": "payment_intent", "amount": amount, "amount_received": 0,
            "currency": form.get("currency", "usd"), "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "description": form.get("description"), "metadata": form.get("metadata", {}),
            "automatic_payment_methods": {"enabled": form.get("automatic_payment_methods", {})
                                          .get("enabled") == "true"},
            "last_payment_error": None, "created": int(time.time()), "livemode": False,
        }
        return 200, intent

    def _confirm(self, intent: dict[str, Any], form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        method = form.get("payment_method", "pm_card_visa")
        if method == "pm_card_chargeDeclined":
            intent.update(status="requires_payment_method",
                          last_payment_error={"code": "card_declined", "message": "Your card was declined."})
            return 402, {"error": {"type": "card_error", "code": "card_declined",
                                   "message": "Your card was declined.", "payment_intent": intent}}
        return 200, self.succeed(intent["id"])

    def _refund(self, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return 400, _error("invalid_request_error", "This PaymentIntent has no successful charge.")
        done = sum(r["amount"] for r in self.refunds.values()
                   if r["payment_intent"] == intent["id"] and r["status"] != "failed")
        amount = int(form.get("amount", intent["amount_received"] - done))
        if amount > intent["amount_received"] - done:
            return 400, _error("invalid_request_error", f"Refund amount ({amount}) is greater than "
                               "unrefunded amount on charge", "amount_too_large")
        refund_id = f"re_{secrets.token_hex(12)}"
        self.refunds[refund_id] = refund = {
            "id": refund_id, "object": "refund", "amount": amount, "currency": intent["currency"],
            "payment_intent": intent["id"], "status": "succeeded", "reason": None,
            "metadata": form.get("metadata", {}), "created": int(time.time())}
        return 200, refund


def _error(type_: str, message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, "code": code}}
