"""``manual``: cash or bank transfers staff record (``POST /api/v1/payments/manual``).

No outside service: a manual payment is settled when it is recorded, and a manual refund
(money handed back) is recorded as done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hookspecs import (
    PaymentRequest,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    WebhookEvent,
    WebhookRejected,
)


class ManualProvider:
    name = "manual"
    title = "Cash or bank transfer (recorded by staff)"

    def configured(self, settings: Mapping[str, Any]) -> bool:
        return True

    def create(self, settings: Mapping[str, Any], request: PaymentRequest) -> ProviderPayment:
        raise ProviderError("Record cash and bank payments with POST /api/v1/payments/manual.", 409)

    def status(self, settings: Mapping[str, Any], reference: str,
               data: Mapping[str, str]) -> ProviderStatus:
        return ProviderStatus("succeeded")

    def refund(self, settings: Mapping[str, Any], reference: str, amount: int, currency: str,
               idempotency_key: str, reason: str | None) -> ProviderRefund:
        return ProviderRefund(reference=idempotency_key, status="succeeded")

    def parse_webhook(self, settings: Mapping[str, Any], body: bytes, headers: Mapping[str, str],
                      form: Mapping[str, str], url: str) -> Sequence[WebhookEvent]:
        raise WebhookRejected("manual payments have no webhooks")
