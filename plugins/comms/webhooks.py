"""``/api/v1/webhooks/comms/…``: what Twilio and Vapi post back, authenticated first.

``{endpoint}`` is the tenant's id, as ``GET /api/v1/comms/setup`` shows it. A request
that fails authentication gets 403 and changes nothing; a tenant that has not enabled
comms gets the kernel's 404. Only then is the body read and validated (422, nothing
stored). Twilio's callbacks are answered 204 (status) or TwiML (inbound); Vapi's with
JSON, ``assistant-request`` from configuration alone so it answers well within Vapi's
7.5 seconds.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response, request
from flask_smorest import Blueprint
from twilio.twiml.messaging_response import MessagingResponse

from kernel.api import audit_skip, db, enter_tenant, plugin_config, problem
from plugins.comms import services, signatures, voice
from plugins.comms.errors import domain_errors

blp = Blueprint("comms_webhooks", __name__, url_prefix="/api/v1/webhooks/comms",
                description="Twilio status callbacks and inbound texts; Vapi server messages")
MAX_BODY = 256 * 1024  # Vapi's end-of-call reports carry transcripts
SID = r"^[A-Z]{2}[0-9a-f]{32}$"


def _tenant(endpoint: uuid.UUID) -> services.Settings:
    # a provider's report, not a person's action: the rows it writes are the record
    audit_skip()
    enter_tenant("comms", endpoint)  # 404 unless this tenant enabled comms
    return services.Settings.from_config(plugin_config("comms"))


def _forbidden(provider: str) -> None:
    problem(403, "invalid-signature", title="Signature check failed",
            detail=f"The request is not signed by {provider} with this tenant's credentials.")


def _twilio(endpoint: uuid.UUID) -> tuple[dict[str, Any], dict[str, str]]:
    """The tenant's Twilio config and the verified form; 403 when the signature does not match."""
    twilio = dict(_tenant(endpoint).twilio or {})
    form = request.form.to_dict()
    if not signatures.twilio_valid(twilio.get("auth_token", ""), request.url, form,
                                   request.headers.get("X-Twilio-Signature")):
        _forbidden("Twilio")
    return twilio, form


def _field(form: dict[str, str], name: str, max_length: int = 64) -> str:
    value = form.get(name, "").strip()
    if not value or len(value) > max_length:
        raise services.InvalidText(f"{name} is missing or too long.", f"/{name}")
    return value


SIGNED = "The signature does not match this tenant's credentials"
INVALID = "Signed, but a required field is missing or invalid; nothing stored"


@blp.post("/twilio/<uuid:endpoint>/status")
@blp.response(204)
@blp.alt_response(403, description=SIGNED)
@blp.alt_response(422, description=INVALID)
@domain_errors
def twilio_status(endpoint: uuid.UUID) -> None:
    """Twilio's status callback for a text we sent (``MessageSid``, ``MessageStatus``)."""
    _, form = _twilio(endpoint)
    sid, status = _field(form, "MessageSid"), _field(form, "MessageStatus", 16)
    services.record_status(sid, status, form.get("ErrorCode"))
    db.session.commit()


@blp.post("/twilio/<uuid:endpoint>/inbound")
@blp.response(200, content_type="text/xml", description="TwiML")
@blp.alt_response(403, description=SIGNED)
@blp.alt_response(422, description=INVALID)
@domain_errors
def twilio_inbound(endpoint: uuid.UUID) -> Response:
    """A text to the tenant's number: stored, STOP/START/HELP honoured; answered in TwiML."""
    twilio, form = _twilio(endpoint)
    sid = _field(form, "MessageSid")
    _, kind = services.receive(sid, _field(form, "From", 32), _field(form, "To", 32),
                               form.get("Body", "")[:1600])
    db.session.commit()
    reply = MessagingResponse()
    if kind == "help" and twilio.get("help_reply"):
        reply.message(twilio["help_reply"])
    return Response(str(reply), 200, mimetype="text/xml")


@blp.post("/vapi/<uuid:endpoint>")
@blp.response(200)
@blp.alt_response(403, description=SIGNED)
@blp.alt_response(413, description="Larger than 256 KiB")
@blp.alt_response(422, description=INVALID)
@domain_errors
def vapi(endpoint: uuid.UUID) -> Any:
    """Vapi's server messages: status-update, end-of-call-report, assistant-request."""
    settings = _tenant(endpoint)
    if (request.content_length or 0) > MAX_BODY:
        problem(413, "payload-too-large", title="Payload too large", detail="At most 256 KiB.")
    body = request.get_data(cache=True)
    secret = (settings.vapi or {}).get("webhook_secret", "")
    if not signatures.vapi_valid(secret, request.headers, body):
        _forbidden("Vapi")
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise services.InvalidText("Expected a JSON object with a `message` object that has a `type`.",
                                   "/message")
    answer = voice.handle(settings, message)
    db.session.commit()
    return answer
