"""``/api/v1/payments``: the tenant's staff API (payments, refunds, manual payments, links).

The kernel's gate has authenticated the caller, opened the tenant's scope and checked
that the tenant enabled ``payments``; each view checks its permission
(``payments.read``, ``payments.write``, ``payments.refund``), calls :mod:`.services`
and commits. Failures are answered by :func:`.errors.domain_errors`.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from kernel.api import audit_describe, auth_required, current_principal, db, paginate, public_url
from plugins.payments import config, links, providers, refunds, services, webhooks
from plugins.payments.errors import domain_errors
from plugins.payments.models import Payment, PaymentLink, Refund
from plugins.payments.schemas import (
    LinkCreatedSchema,
    LinkCreateSchema,
    LinkSchema,
    ManualPaymentSchema,
    PaymentCreateSchema,
    PaymentDetailSchema,
    PaymentQuerySchema,
    PaymentSchema,
    ProviderInfoSchema,
    RefundCreateSchema,
    RefundSchema,
)

blp = Blueprint("payments", __name__, url_prefix="/api/v1/payments",
                description="Payments of what other plugins sell: providers, refunds, links")


def _actor() -> str:
    principal = current_principal()
    assert principal is not None  # auth_required ran
    return principal.actor_id


def provider_infos() -> list[dict[str, Any]]:
    """The providers offered to the tenant in scope, with the webhook URL to register."""
    out = []
    for name, provider in sorted(providers.available().items()):
        settings = config.provider_settings(name, "tenant")
        out.append({"name": name, "title": provider.title, "configured": provider.configured(settings),
                    "webhook_url": None if name == "manual" else webhooks.url_for(name, "tenant"),
                    "publishable_key": settings.get("publishable_key")})
    return out


def options(data: dict[str, Any]) -> dict[str, str]:
    return {k: data[k] for k in ("method", "phone") if data.get(k)}


def detail(payment: Payment) -> Payment:
    """The payment with its refunds and disputes attached for :class:`PaymentDetailSchema`."""
    payment.refunds = refunds.refunds_of(payment.id)  # type: ignore[attr-defined]
    payment.disputes = refunds.disputes_of(payment.id)  # type: ignore[attr-defined]
    return payment


@blp.get("/providers")
@auth_required("payments.read")
@blp.response(200, ProviderInfoSchema(many=True))
def list_providers() -> list[dict[str, Any]]:
    """Providers available to this tenant, whether configured, and the webhook URL of each."""
    return provider_infos()


@blp.route("")
class Payments(MethodView):
    @auth_required("payments.read")
    @blp.arguments(PaymentQuerySchema, location="query")
    @blp.response(200, PaymentSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Payment]:
        """Payments, newest first; filter by kind, ref, status, provider."""
        return paginate(services.list_payments(query), pagination_parameters)

    @auth_required("payments.write")
    @blp.arguments(PaymentCreateSchema)
    @blp.response(201, PaymentSchema)
    @domain_errors
    def post(self, data: dict[str, Any]) -> Payment:
        """Start paying ``kind``/``ref``: the amount comes from its owner, never from you.

        The answer carries what the client needs next: ``client_secret`` (Stripe) or
        ``redirect_url`` (Paynow). A payable already paid, cancelled or expired: 409.
        """
        payment = services.create_payment(
            data["kind"], data["ref"], _actor(), provider=data["provider"],
            return_url=data["return_url"], email=data["email"], options=options(data),
            result_url=webhooks.url_for)
        audit_describe("payments.payment.create", "payment", payment.id, kind=payment.kind,
                       ref=payment.ref, provider=payment.provider)
        db.session.commit()
        return payment


MANUAL_EXAMPLE = {"kind": "ticketing.order", "ref": "5f0c2a5e-1b9b-4c53-9a53-3f5c4f1f2d10",
                  "amount": 1500, "currency": "EUR", "note": "cash at the desk"}


@blp.post("/manual")
@auth_required("payments.write")
@blp.arguments(ManualPaymentSchema, example=MANUAL_EXAMPLE)
@blp.response(201, PaymentSchema)
@domain_errors
def record_manual(data: dict[str, Any]) -> Payment:
    """Record a cash or bank payment received: exactly the amount due, settled at once."""
    payment = services.record_manual(data["kind"], data["ref"], data["amount"], data["currency"],
                                     data["note"], _actor())
    audit_describe("payments.payment.manual", "payment", payment.id, kind=payment.kind, ref=payment.ref)
    db.session.commit()
    return payment


@blp.get("/<uuid:payment_id>")
@auth_required("payments.read")
@blp.response(200, PaymentDetailSchema)
@domain_errors
def get_payment(payment_id: uuid.UUID) -> Payment:
    """One payment with its refunds and disputes."""
    return detail(services.get(payment_id))


@blp.post("/<uuid:payment_id>/confirm")
@auth_required("payments.write")
@blp.response(200, PaymentSchema)
@domain_errors
def confirm(payment_id: uuid.UUID) -> Payment:
    """The client finished paying: read the payment from the provider and settle it (once,
    whether or not the provider's webhook got here first)."""
    payment = services.confirm(payment_id)
    db.session.commit()
    return payment


@blp.route("/<uuid:payment_id>/refunds")
class Refunds(MethodView):
    @auth_required("payments.read")
    @blp.response(200, RefundSchema(many=True))
    @domain_errors
    def get(self, payment_id: uuid.UUID) -> list[Refund]:
        """The payment's refunds, oldest first."""
        services.get(payment_id)
        return refunds.refunds_of(payment_id)

    @auth_required("payments.refund")
    @blp.arguments(RefundCreateSchema)
    @blp.response(201, RefundSchema)
    @domain_errors
    def post(self, data: dict[str, Any], payment_id: uuid.UUID) -> Refund:
        """Refund part or all of a paid payment; refunds add up to at most what was paid (409)."""
        row = refunds.refund(payment_id, data["amount"], data["reason"], _actor())
        audit_describe("payments.refund.create", "payment_refund", row.id, payment_id=str(payment_id),
                       amount=row.amount)
        db.session.commit()
        return row


@blp.route("/links")
class Links(MethodView):
    @auth_required("payments.read")
    @blp.response(200, LinkSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[PaymentLink]:
        """Payment links, newest first (tokens are shown only when created)."""
        return paginate(links.list_links(), pagination_parameters)

    @auth_required("payments.write")
    @blp.arguments(LinkCreateSchema)
    @blp.response(201, LinkCreatedSchema)
    @domain_errors
    def post(self, data: dict[str, Any]) -> PaymentLink:
        """A link anyone holding it may pay ``kind``/``ref`` with: ``{token, url}``."""
        link, token = links.create(data["kind"], data["ref"], data["expires_at"], _actor())
        audit_describe("payments.link.create", "payment_link", link.id, kind=link.kind, ref=link.ref)
        db.session.commit()
        link.token, link.url = token, public_url(f"/pay/{token}")  # type: ignore[attr-defined]
        return link
