"""``stripe``: PaymentIntents with automatic payment methods, through the official SDK.

Every create carries an idempotency key derived from our payment (or refund) id, so a
retried request never charges twice. Webhooks are verified with the SDK's own
``stripe.Webhook.construct_event`` (HMAC-SHA256, 300 s tolerance).

``PLUGBOARD_PAYMENTS_STRIPE_API_BASE`` points the SDK at another API address (a Stripe
mock server in tests); unset, it talks to api.stripe.com.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import stripe

from hookspecs import (
    PaymentRequest,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    WebhookEvent,
    WebhookRejected,
)

TOLERANCE = 300  # seconds: Stripe's own default for the signature timestamp
#: Stripe's documented exceptions to ISO 4217 minor units: zero-decimal currencies it still
#: takes as two-decimal amounts (the decimals always 00) for backwards compatibility.
TWO_DECIMAL_LEGACY = frozenset({"ISK", "UGX"})

STATES = {
    "requires_payment_method": "pending", "requires_confirmation": "pending",
    "requires_action": "requires_action", "processing": "processing",
    "requires_capture": "processing", "succeeded": "succeeded", "canceled": "cancelled",
}
PAYMENT_EVENTS = {
    "payment_intent.succeeded": "succeeded", "payment_intent.processing": "processing",
    "payment_intent.payment_failed": "failed", "payment_intent.canceled": "cancelled",
    "payment_intent.requires_action": "requires_action",
}
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
                  "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated")

_clients: dict[tuple[str, str | None], stripe.StripeClient] = {}
_lock = threading.Lock()


def to_stripe(amount: int, currency: str) -> int:
    return amount * 100 if currency.upper() in TWO_DECIMAL_LEGACY else amount


def from_stripe(amount: int, currency: str) -> int:
    return amount // 100 if currency.upper() in TWO_DECIMAL_LEGACY else amount


def client(secret_key: str) -> stripe.StripeClient:
    """One client per key and API address: it keeps its HTTP connections alive."""
    base = os.environ.get("PLUGBOARD_PAYMENTS_STRIPE_API_BASE") or None
    key = (secret_key, base)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = stripe.StripeClient(secret_key, base_addresses={"api": base} if base else None,
                                        max_network_retries=2)
            _clients[key] = found
        return found


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except stripe.CardError as exc:
        raise ProviderError(f"Stripe declined: {exc.user_message or exc.code}", 402) from exc
    except stripe.InvalidRequestError as exc:
        raise ProviderError(f"Stripe refused the request: {exc.user_message or exc.code}", 409) from exc
    except stripe.AuthenticationError as exc:
        raise ProviderError("Stripe refused the secret key; check the payments config.", 409) from exc
    except stripe.StripeError as exc:
        raise ProviderError(f"Stripe could not be reached or failed ({type(exc).__name__}).") from exc


class StripeProvider:
    name = "stripe"
    title = "Stripe (cards, wallets and local methods)"

    def configured(self, settings: Mapping[str, Any]) -> bool:
        return bool(settings.get("secret_key") and settings.get("webhook_secret"))

    def create(self, settings: Mapping[str, Any], request: PaymentRequest) -> ProviderPayment:
        params: dict[str, Any] = {
            "amount": to_stripe(request.amount, request.currency),
            "currency": request.currency.lower(),
            "automatic_payment_methods": {"enabled": True},
            "description": request.description[:1000],
            "metadata": {"payment_id": str(request.payment_id), "tenant_id": str(request.tenant_id)},
        }
        if request.email:
            params["receipt_email"] = request.email
        intent = _call(client(settings["secret_key"]).v1.payment_intents.create, params=params,
                       options={"idempotency_key": request.idempotency_key})
        return ProviderPayment(reference=intent.id, status=STATES.get(intent.status, "pending"),  # type: ignore[arg-type]
                               client_secret=intent.client_secret)

    def status(self, settings: Mapping[str, Any], reference: str,
               data: Mapping[str, str]) -> ProviderStatus:
        intent = _call(client(settings["secret_key"]).v1.payment_intents.retrieve, reference).to_dict()
        state = STATES.get(intent["status"], "pending")
        if state == "pending" and intent.get("last_payment_error"):
            state = "failed"
        received = intent.get("amount_received")
        return ProviderStatus(state, from_stripe(received, intent["currency"]) if received else None)  # type: ignore[arg-type]

    def refund(self, settings: Mapping[str, Any], reference: str, amount: int, currency: str,
               idempotency_key: str, reason: str | None) -> ProviderRefund:
        params: dict[str, Any] = {"payment_intent": reference, "amount": to_stripe(amount, currency),
                                  "metadata": {"reason": (reason or "")[:500]}}
        refund = _call(client(settings["secret_key"]).v1.refunds.create, params=params,
                       options={"idempotency_key": idempotency_key})
        status = refund.status if refund.status in ("succeeded", "failed") else "pending"
        return ProviderRefund(reference=refund.id, status=status)

    def parse_webhook(self, settings: Mapping[str, Any], body: bytes, headers: Mapping[str, str],
                      form: Mapping[str, str], url: str) -> Sequence[WebhookEvent]:
        secret = settings.get("webhook_secret")
        if not secret:
            raise WebhookRejected("no webhook secret is configured for this endpoint")
        try:
            event = stripe.Webhook.construct_event(body, headers.get("Stripe-Signature"), secret,
                                                   tolerance=TOLERANCE)
        except (stripe.SignatureVerificationError, ValueError, KeyError, IndexError) as exc:
            raise WebhookRejected("the Stripe-Signature does not match this endpoint's secret, "
                                  "or its timestamp is outside the 300 s tolerance") from exc
        found = _normalise(event.to_dict())
        return [found] if found is not None else []


def _normalise(event: dict[str, Any]) -> WebhookEvent | None:
    """Our view of the Stripe events we act on; None for the others (acknowledged, ignored)."""
    obj, kind = event["data"]["object"], event["type"]
    created = event.get("created")
    if kind in PAYMENT_EVENTS:
        received = obj.get("amount_received") if kind == "payment_intent.succeeded" else None
        amount = from_stripe(received, obj["currency"]) if received else None
        return WebhookEvent(event["id"], "payment", obj["id"], PAYMENT_EVENTS[kind], amount=amount,
                            created=created)
    if kind in REFUND_EVENTS and obj.get("payment_intent"):
        return WebhookEvent(event["id"], "refund", obj["payment_intent"], obj.get("status", "pending"),
                            object_ref=obj["id"], amount=from_stripe(obj["amount"], obj["currency"]),
                            reason=obj.get("reason"), created=created)
    if kind in DISPUTE_EVENTS and obj.get("payment_intent"):
        return WebhookEvent(event["id"], "dispute", obj["payment_intent"], obj.get("status", ""),
                            object_ref=obj["id"], amount=from_stripe(obj["amount"], obj["currency"]),
                            reason=obj.get("reason"), created=created)
    return None
