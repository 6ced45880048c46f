"""``/api/v1/webhooks/payments/<provider>/<endpoint>``: what providers tell us.

``endpoint`` is the tenant's id (its own provider account, its own webhook secret) or
``platform`` (the platform's account, secrets from ``PLUGBOARD_PAYMENTS_*``). The raw body
is verified by the provider (``parse_webhook``: Stripe's signature with its 300 s
tolerance, Paynow's hash) with that endpoint's secret, against the public URL the
provider called (``request.url`` is proxy-aware behind ``PLUGBOARD_TRUSTED_PROXIES``);
then each event is applied once (:mod:`.inbox`). A bad signature answers 400 and
changes nothing; an event about a payment this endpoint does not know is acknowledged
(200) so the provider stops retrying it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from flask import request
from flask_smorest import Blueprint

from hookspecs import PaymentProvider, WebhookEvent, WebhookRejected
from kernel.api import (
    audit_skip,
    current_tenant_id,
    db,
    enter_tenant,
    platform_scope,
    problem,
    public_url,
    tenant_scope,
)
from plugins.payments import config, inbox, providers
from plugins.payments.errors import WebhookEndpointUnknown, domain_errors
from plugins.payments.models import Payment
from plugins.payments.schemas import WebhookAnswerSchema

PREFIX = "/api/v1/webhooks/payments"
blp = Blueprint("payments_webhooks", __name__, url_prefix=PREFIX,
                description="Provider notifications (Stripe events, Paynow result URL)")


def url_for(provider: str, account: str) -> str:
    """The URL ``provider`` must call for payments to ``account`` of the tenant in scope."""
    endpoint = config.PLATFORM if account == config.PLATFORM else str(current_tenant_id())
    return public_url(f"{PREFIX}/{provider}/{endpoint}")


@blp.post("/<string:provider>/<string:endpoint>")
@blp.response(200, WebhookAnswerSchema)
@domain_errors
def receive(provider: str, endpoint: str) -> dict[str, object]:
    """A provider's notification, verified with the endpoint's secret and applied once."""
    audit_skip()  # a provider's report, not a person's action: the inbox rows are the record
    body = request.get_data(cache=True)
    if endpoint == config.PLATFORM:
        found = providers.builtin(provider)
        events = _verify(found, config.platform_settings(provider), body)
        outcomes = [_apply_platform(provider, event) for event in events]
    else:
        enter_tenant("payments", _tenant(endpoint))
        found = providers.available().get(provider)
        events = _verify(found, config.provider_settings(provider, "tenant"), body)
        outcomes = [inbox.apply(provider, "tenant", event) for event in events]
    db.session.commit()
    return {"received": len(events), "outcomes": outcomes}


def _tenant(endpoint: str) -> uuid.UUID:
    try:
        return uuid.UUID(endpoint)
    except ValueError:
        raise WebhookEndpointUnknown("No such webhook endpoint: use the URL from "
                                     "GET /api/v1/payments/providers.") from None


def _verify(provider: PaymentProvider | None, settings: object, body: bytes) -> Sequence[WebhookEvent]:
    if provider is None or provider.name == "manual":
        raise WebhookEndpointUnknown("No such payment provider at this endpoint.")
    try:
        return provider.parse_webhook(settings, body, request.headers, request.form.to_dict(),  # type: ignore[arg-type]
                                      request.url)
    except WebhookRejected as exc:
        problem(400, "webhook-signature-invalid", title="Webhook not authentic", detail=str(exc))
        raise AssertionError from exc  # unreachable: problem() raises


def _apply_platform(provider: str, event: WebhookEvent) -> str:
    """A platform-account event: the payment's row says which tenant it belongs to."""
    with platform_scope():
        tenant_id = db.session.scalar(sa.select(Payment.tenant_id).where(
            Payment.provider == provider, Payment.provider_ref == event.payment_ref,
            Payment.account == config.PLATFORM))
    if tenant_id is None:
        return "unknown-payment"
    with tenant_scope(tenant_id):
        return inbox.apply(provider, config.PLATFORM, event)
