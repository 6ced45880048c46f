"""``/api/v1/public/payments/links/<token>``: a payment link, for someone with no account.

The tenant comes from Host or ``X-Tenant`` (the kernel's public gate); the token is the
only credential. GET says what is due (asked of the payable's owner now) and the latest
payment's state; POST starts paying it.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from kernel.api import db
from plugins.payments import links, services, webhooks
from plugins.payments.api import options, provider_infos
from plugins.payments.errors import domain_errors
from plugins.payments.models import Payment
from plugins.payments.schemas import DueSchema, PublicPaymentSchema, PublicPaySchema

blp = Blueprint("payments_public", __name__, url_prefix="/api/v1/public/payments",
                description="Payment links: what is due, and paying it without an account")

@blp.get("/links/<string:token>")
@blp.response(200, DueSchema)
@domain_errors
def due(token: str) -> dict[str, Any]:
    """What the link's payable is due now; 409 when already paid, cancelled or expired."""
    link = links.by_token(token)
    payable = links.due(link)
    return {"kind": link.kind, "ref": link.ref, "amount": payable.amount, "currency": payable.currency,
            "description": payable.description, "expires_at": link.expires_at,
            "providers": [{**p, "webhook_url": None} for p in provider_infos()
                          if p["configured"] and p["name"] != "manual"],
            "payment": links.latest_payment(link)}


@blp.post("/links/<string:token>")
@blp.arguments(PublicPaySchema)
@blp.response(201, PublicPaymentSchema)
@domain_errors
def pay(data: dict[str, Any], token: str) -> Payment:
    """Start paying the link's payable: ``client_secret`` (Stripe) or ``redirect_url`` (Paynow)."""
    link = links.by_token(token)
    payment = services.create_payment(link.kind, link.ref, None, provider=data["provider"],
                                      return_url=data["return_url"], email=data["email"],
                                      options=options(data), result_url=webhooks.url_for)
    db.session.commit()
    return payment
