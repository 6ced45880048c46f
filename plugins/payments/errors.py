"""The payments plugin's expected failures and their one mapping to problem+json.

Services raise these; every view of the plugin is wrapped in :func:`domain_errors`, which
answers each with its status and problem type. A provider's refusal
(:class:`hookspecs.ProviderError`) is mapped here too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from hookspecs import ProviderError
from kernel.api import problem

F = TypeVar("F", bound=Callable[..., Any])


class PaymentsError(Exception):
    """Base: ``status``, ``type_`` and ``title`` say how it is answered; ``extra`` is added."""

    status = 409
    type_ = "payments-error"
    title = "Payments error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(PaymentsError):
    status, type_, title = 404, "payment-not-found", "Not found"


class LinkNotFound(PaymentsError):
    status, type_, title = 404, "payment-link-not-found", "Payment link not found"


class LinkExpired(PaymentsError):
    status, type_, title = 410, "payment-link-expired", "Payment link expired"


class NotPayable(PaymentsError):
    """No enabled plugin answers for this kind/ref."""

    status, type_, title = 404, "payable-not-found", "Nothing payable"


class PayableRefused(PaymentsError):
    """The payable exists but is already paid, cancelled or expired (``reason``)."""

    status, type_, title = 409, "payable-refused", "Not payable now"


class UnknownProvider(PaymentsError):
    status, type_, title = 422, "payment-provider-unknown", "Unknown payment provider"


class ProviderNotConfigured(PaymentsError):
    status, type_, title = 409, "payment-provider-not-configured", "Payment provider not configured"


class InvalidAmount(PaymentsError):
    status, type_, title = 422, "payment-amount-invalid", "Invalid amount"


class NotRefundable(PaymentsError):
    status, type_, title = 409, "payment-not-refundable", "Payment cannot be refunded"


class OverRefund(PaymentsError):
    status, type_, title = 409, "refund-exceeds-payment", "Refund exceeds what is left"


class IllegalTransition(PaymentsError):
    status, type_, title = 409, "payment-state-conflict", "Illegal state change"


class WebhookEndpointUnknown(PaymentsError):
    status, type_, title = 404, "webhook-endpoint-not-found", "Webhook endpoint not found"


def domain_errors(view: F) -> F:
    """Answer :class:`PaymentsError` and :class:`ProviderError` as problem+json."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except PaymentsError as exc:
            problem(exc.status, exc.type_, title=exc.title, detail=exc.detail, **exc.extra)
        except ProviderError as exc:
            status = exc.status if 400 <= exc.status < 600 else 502
            problem(status, "payment-provider-error", title="Payment provider error", detail=exc.detail)

    return cast(F, wrapper)
