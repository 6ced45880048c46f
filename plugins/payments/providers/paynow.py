"""``paynow`` (Zimbabwe): web checkout and mobile money (EcoCash, OneMoney) through the
official ``paynow`` SDK.

Paynow posts status changes to the result URL with a ``hash``: SHA-512 over the posted
values in order (the hash itself left out) followed by the integration key, upper-case
hex (the SDK's own scheme for its requests; its ``process_status_update`` is not
implemented, so the check is ours, in constant time). Paynow has no event ids: a status
change (Paynow reference + status) is the event. Paynow has no refund API: refunds are
made in its dashboard.

``PLUGBOARD_PAYMENTS_PAYNOW_URL`` replaces ``https://www.paynow.co.zw`` (tests' fake).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from typing import Any

from paynow import Paynow  # type: ignore[import-untyped]

from hookspecs import (
    PaymentRequest,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    WebhookEvent,
    WebhookRejected,
)
from plugins.payments import money

DEFAULT_URL = "https://www.paynow.co.zw"
MOBILE_METHODS = ("ecocash", "onemoney")
STATES = {"paid": "succeeded", "awaiting delivery": "succeeded", "delivered": "succeeded",
          "created": "pending", "sent": "pending", "cancelled": "cancelled", "failed": "failed"}


def paynow_hash(values: Mapping[str, str], integration_key: str) -> str:
    """Paynow's hash of ``values`` (in order, ``hash`` excluded) with the integration key."""
    text = "".join(str(v) for k, v in values.items() if k.lower() != "hash")
    return hashlib.sha512((text + integration_key.lower()).encode()).hexdigest().upper()


def sdk(settings: Mapping[str, Any], return_url: str = "", result_url: str = "") -> Paynow:
    client = Paynow(settings["integration_id"], settings["integration_key"], return_url, result_url)
    base = (os.environ.get("PLUGBOARD_PAYMENTS_PAYNOW_URL") or DEFAULT_URL).rstrip("/")
    client.URL_INITIATE_TRANSACTION = f"{base}/interface/initiatetransaction"
    client.URL_INITIATE_MOBILE_TRANSACTION = f"{base}/interface/remotetransaction"
    return client


class PaynowProvider:
    name = "paynow"
    title = "Paynow (Zimbabwe: cards, EcoCash, OneMoney)"

    def configured(self, settings: Mapping[str, Any]) -> bool:
        return bool(settings.get("integration_id") and settings.get("integration_key"))

    def create(self, settings: Mapping[str, Any], request: PaymentRequest) -> ProviderPayment:
        client = sdk(settings, request.return_url or "", request.result_url or "")
        email = request.email or settings.get("auth_email") or ""
        payment = client.create_payment(str(request.payment_id), email)
        payment.add(request.description[:100] or "Payment",
                    float(money.to_major(request.amount, request.currency)))
        method = request.options.get("method")
        try:
            if method:
                if method not in MOBILE_METHODS or not request.options.get("phone") or not email:
                    raise ProviderError("Mobile payments need method ecocash or onemoney, a phone "
                                        "number and an e-mail (the payer's or auth_email).", 422)
                answer = client.send_mobile(payment, request.options["phone"], method)
            else:
                answer = client.send(payment)
        except ProviderError:
            raise
        except Exception as exc:  # the SDK raises bare errors (network, hash mismatch)
            raise ProviderError("Paynow could not be reached or answered badly "
                                f"({type(exc).__name__}).") from exc
        if not answer.success:
            raise ProviderError(f"Paynow refused: {answer.data.get('error', 'unknown error')}", 409)
        return ProviderPayment(reference=str(request.payment_id),
                               redirect_url=answer.redirect_url if answer.has_redirect else None,
                               data={"poll_url": answer.poll_url})

    def status(self, settings: Mapping[str, Any], reference: str,
               data: Mapping[str, str]) -> ProviderStatus:
        if not data.get("poll_url"):
            return ProviderStatus("pending")
        try:
            answer = sdk(settings).check_transaction_status(data["poll_url"])
        except Exception as exc:
            raise ProviderError(f"Paynow could not be polled ({type(exc).__name__}).") from exc
        return ProviderStatus(STATES.get(answer.status, "pending"))  # type: ignore[arg-type]

    def refund(self, settings: Mapping[str, Any], reference: str, amount: int, currency: str,
               idempotency_key: str, reason: str | None) -> ProviderRefund:
        raise ProviderError("Paynow has no refund API: refund in the Paynow dashboard.", 409)

    def parse_webhook(self, settings: Mapping[str, Any], body: bytes, headers: Mapping[str, str],
                      form: Mapping[str, str], url: str) -> Sequence[WebhookEvent]:
        key = settings.get("integration_key")
        given = form.get("hash", "")
        if not key or not given or not hmac.compare_digest(given.upper(), paynow_hash(form, key)):
            raise WebhookRejected("the Paynow hash does not match this endpoint's integration key")
        if "reference" not in form or "status" not in form:
            raise WebhookRejected("a Paynow status update needs reference and status")
        status = form["status"].strip().lower()
        event_id = f"{form.get('paynowreference', form['reference'])}:{status}"
        if status == "refunded":
            return [WebhookEvent(event_id, "refund", form["reference"], "succeeded",
                                 object_ref=event_id)]
        if status == "disputed":
            return [WebhookEvent(event_id, "dispute", form["reference"], "needs_response",
                                 object_ref=event_id)]
        return [WebhookEvent(event_id, "payment", form["reference"], STATES.get(status, "pending"))]
