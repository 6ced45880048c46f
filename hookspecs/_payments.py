"""The payments contract: what a payable is, and the protocol a payment provider implements.

Plugins that sell something answer ``plugboard_resolve_payable`` with a :class:`Payable`
(or a :class:`PayableRefusal`); plugins that reach a payment service answer
``plugboard_payment_providers`` with objects implementing :class:`PaymentProvider`. The
``payments`` plugin drives both; nobody imports it. Amounts are integer minor units of an
ISO 4217 currency.

.. versionadded:: 1.1
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

#: whose account receives the money: the tenant's own provider account, or the platform's
Account = Literal["tenant", "platform"]
#: a payment's state as providers report it, normalised
ProviderState = Literal["pending", "requires_action", "processing", "succeeded", "failed",
                        "cancelled"]


@dataclass(frozen=True)
class Payable:
    """What is due for ``kind``/``ref``: the only source of a payment's amount.

    .. versionadded:: 1.1
    """

    amount: int
    currency: str
    description: str
    customer_id: uuid.UUID | None = None
    account: Account = "tenant"
    #: shown on the payment and passed to the provider (ids only, no personal data)
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PayableRefusal:
    """``kind``/``ref`` exists but cannot be paid now; ``reason`` is one of ``paid``,
    ``cancelled``, ``expired`` (or another short word), ``detail`` says why to a person.

    .. versionadded:: 1.1
    """

    reason: str
    detail: str


@dataclass(frozen=True)
class PaymentRequest:
    """What a provider is asked to collect. ``idempotency_key`` is stable per payment."""

    payment_id: uuid.UUID
    tenant_id: uuid.UUID
    amount: int
    currency: str
    description: str
    idempotency_key: str
    #: where the payer's browser returns to, and where the provider posts results
    return_url: str | None = None
    result_url: str | None = None
    email: str | None = None
    #: e.g. ``{"method": "ecocash", "phone": "0771234567"}`` for mobile money
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderPayment:
    """The provider's answer to a create: its reference and what the client needs next."""

    reference: str
    status: ProviderState = "pending"
    client_secret: str | None = None
    redirect_url: str | None = None
    #: anything the provider needs later (e.g. Paynow's poll URL), kept on the payment
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderStatus:
    """The payment's state read from the provider."""

    status: ProviderState
    amount_received: int | None = None


@dataclass(frozen=True)
class ProviderRefund:
    reference: str
    status: Literal["pending", "succeeded", "failed"] = "pending"


@dataclass(frozen=True)
class WebhookEvent:
    """One verified notification, normalised.

    ``kind`` is ``payment`` (``status`` is a :data:`ProviderState`), ``refund``
    (``status`` pending/succeeded/failed, ``object_ref`` the refund's reference) or
    ``dispute`` (``status`` the provider's dispute status, ``object_ref`` the dispute's).
    ``payment_ref`` is the provider's reference of the payment concerned.
    """

    event_id: str
    kind: Literal["payment", "refund", "dispute"]
    payment_ref: str
    status: str
    object_ref: str | None = None
    amount: int | None = None
    reason: str | None = None
    created: int | None = None


class WebhookRejected(Exception):
    """The notification is not authentic (signature, hash, timestamp) or not readable."""


class ProviderError(Exception):
    """The provider refused or failed; ``detail`` is safe to show (no secrets)."""

    def __init__(self, detail: str, status: int = 502) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@runtime_checkable
class PaymentProvider(Protocol):
    """A payment service, as the payments plugin drives it.

    ``settings`` is the provider's section of the tenant's payments config
    (``{"secret_key": …}``, secrets decrypted) or, for payments to the platform's own
    account, the platform's settings from the environment. Methods raise
    :class:`ProviderError` when the provider refuses or cannot be reached.

    .. versionadded:: 1.1
    """

    #: the URL segment and config key: ``stripe``, ``paynow``, ``manual``, ``acme_pay``
    name: str
    title: str

    def configured(self, settings: Mapping[str, Any]) -> bool:
        """Whether ``settings`` hold what :meth:`create` needs."""

    def create(self, settings: Mapping[str, Any], request: PaymentRequest) -> ProviderPayment:
        """Start collecting ``request``; idempotent on ``request.idempotency_key``."""

    def status(self, settings: Mapping[str, Any], reference: str,
               data: Mapping[str, str]) -> ProviderStatus:
        """Read the payment's current state from the provider (``data``: see ProviderPayment)."""

    def refund(self, settings: Mapping[str, Any], reference: str, amount: int, currency: str,
               idempotency_key: str, reason: str | None) -> ProviderRefund:
        """Refund ``amount`` (minor units) of the payment ``reference``."""

    def parse_webhook(self, settings: Mapping[str, Any], body: bytes, headers: Mapping[str, str],
                      form: Mapping[str, str], url: str) -> Sequence[WebhookEvent]:
        """Verify a notification and normalise it; raise :class:`WebhookRejected` if not
        authentic. ``url`` is the public URL the provider called (for URL-signing schemes)."""
