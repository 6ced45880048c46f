"""``acmepay``: a third-party payment provider plugin (the provider protocol, end to end).

Its "service" is in memory: ``create`` books a payment, ``status`` reads it, webhooks
are signed ``X-Acme-Signature: hex(HMAC-SHA256(webhook_secret, body))``. Its keys live in
its own plugin config (``{"webhook_secret"}``), read with ``kernel.api.plugin_config``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hookspecs import (
    PaymentRequest,
    PluginInfo,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    WebhookEvent,
    WebhookRejected,
    hookimpl,
)
from kernel.api import plugin_config

plugin_info = PluginInfo(
    name="acmepay", version="1.0.0", title="Acme Pay (test provider)",
    config_schema={"type": "object", "properties": {"webhook_secret": {"type": "string", "writeOnly": True}}})

BOOKED: dict[str, dict[str, Any]] = {}


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class AcmePay:
    name = "acmepay"
    title = "Acme Pay"

    def _secret(self) -> str:
        return str(plugin_config("acmepay").get("webhook_secret", ""))

    def configured(self, settings: Mapping[str, Any]) -> bool:
        return bool(self._secret())

    def create(self, settings: Mapping[str, Any], request: PaymentRequest) -> ProviderPayment:
        reference = f"acme_{request.payment_id.hex[:12]}"
        BOOKED[reference] = {"amount": request.amount, "status": "pending",
                             "key": request.idempotency_key}
        return ProviderPayment(reference, redirect_url=f"https://acme.example/pay/{reference}")

    def status(self, settings: Mapping[str, Any], reference: str, data: Mapping[str, str]) -> ProviderStatus:
        return ProviderStatus(BOOKED[reference]["status"])

    def refund(self, settings: Mapping[str, Any], reference: str, amount: int, currency: str,
               idempotency_key: str, reason: str | None) -> ProviderRefund:
        return ProviderRefund(f"acme_re_{idempotency_key[-8:]}", "succeeded")

    def parse_webhook(self, settings: Mapping[str, Any], body: bytes, headers: Mapping[str, str],
                      form: Mapping[str, str], url: str) -> Sequence[WebhookEvent]:
        given = headers.get("X-Acme-Signature", "")
        if not hmac.compare_digest(given, sign(body, self._secret())):
            raise WebhookRejected("bad Acme signature")
        data = json.loads(body)
        return [WebhookEvent(data["id"], "payment", data["reference"], data["status"])]


@hookimpl
def plugboard_payment_providers() -> list[Any]:
    return [AcmePay()]
