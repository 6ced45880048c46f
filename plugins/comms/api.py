"""``/api/v1/comms``: texts, templates, opt-outs, calls and the tenant's webhook URLs.

The kernel's gate has authenticated the caller, opened the tenant's scope and checked
the tenant enabled ``comms``; each view checks its permission (``comms.send`` to send,
edit templates and opt-outs; ``comms.read`` to read) and leaves the work to
:mod:`.services` and :mod:`.voice`, then commits. Sends answer 202: the text or call
leaves from a job. ``Idempotency-Key`` on a send answers the first result again.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from kernel.api import (
    audit_describe,
    auth_required,
    current_principal,
    current_tenant_id,
    db,
    paginate,
    plugin_config,
    public_url,
)
from plugins.comms import segments, services, voice
from plugins.comms.errors import domain_errors
from plugins.comms.models import Call, Message, OptOut, Template
from plugins.comms.schemas import (
    CommsCallCreateSchema,
    CommsCallFilterSchema,
    CommsCallSchema,
    CommsMessageFilterSchema,
    CommsMessageSchema,
    CommsOptOutCreateSchema,
    CommsOptOutSchema,
    CommsPreviewAnswerSchema,
    CommsPreviewSchema,
    CommsSetupSchema,
    CommsSmsSchema,
    CommsTemplateCreateSchema,
    CommsTemplatePutSchema,
    CommsTemplateSchema,
)

blp = Blueprint("comms", __name__, url_prefix="/api/v1/comms",
                description="Texts through Twilio and AI voice calls through Vapi")

IDEMPOTENCY = [{"in": "header", "name": "Idempotency-Key", "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "the same key again answers the first result; nothing new is sent"}]


def _settings() -> services.Settings:
    return services.Settings.from_config(plugin_config("comms"))


def _actor() -> str:
    principal = current_principal()
    assert principal is not None  # auth_required ran
    return principal.actor_id


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    return key[:255] if key else None


@blp.post("/sms")
@auth_required("comms.send")
@blp.arguments(CommsSmsSchema, example={"to": "+263771234567", "body": "See you at 10:00"})
@blp.doc(parameters=IDEMPOTENCY)
@blp.response(202, CommsMessageSchema)
@blp.alt_response(409, description="opted-out (the number replied STOP) or comms-not-configured")
@domain_errors
def send_sms(data: dict[str, Any]) -> Message:
    """Queue a text (``body``, or ``template`` with ``variables``); it leaves within the rate."""
    text = services.compose(data.get("body"), data.get("template"), data["variables"])
    message, created = services.queue_sms(
        _settings(), data["to"], text, template=data.get("template"), customer_id=data["customer_id"],
        ref=data["ref"], actor=_actor(), idempotency_key=_idempotency_key())
    db.session.commit()
    if created:
        audit_describe("comms.sms.queue", "message", message.id, segments=message.segments)
    return message


@blp.post("/sms/preview")
@auth_required("comms.send")
@blp.arguments(CommsPreviewSchema)
@blp.response(200, CommsPreviewAnswerSchema)
@domain_errors
def preview_sms(data: dict[str, Any]) -> dict[str, Any]:
    """The text as it would be sent, its encoding and segment count; nothing is sent."""
    text = services.compose(data.get("body"), data.get("template"), data["variables"])
    counted = segments.count(text)
    to = services.e164(data["to"]) if data.get("to") else None
    return {"body": text, "encoding": counted.encoding, "segments": counted.count,
            "units": counted.units, "to": to}


@blp.get("/messages")
@auth_required("comms.read")
@blp.arguments(CommsMessageFilterSchema, location="query")
@blp.response(200, CommsMessageSchema(many=True))
@blp.paginate()
@domain_errors
def messages(filters: dict[str, Any], pagination_parameters: Any) -> list[Message]:
    """Texts sent and received, newest first; filter by direction, status, number, customer."""
    if filters.get("number"):
        filters["number"] = services.e164(filters["number"], "/number")
    return paginate(services.messages_query(**filters), pagination_parameters)


@blp.get("/messages/<uuid:message_id>")
@auth_required("comms.read")
@blp.response(200, CommsMessageSchema)
@domain_errors
def message(message_id: uuid.UUID) -> Message:
    """One text with its status and, when it failed, Twilio's error code."""
    return services.get_message(message_id)


@blp.route("/templates")
class Templates(MethodView):
    @auth_required("comms.read")
    @blp.response(200, CommsTemplateSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Template]:
        """The tenant's templates by name."""
        return paginate(services.templates_query(), pagination_parameters)

    @auth_required("comms.send")
    @blp.arguments(CommsTemplateCreateSchema)
    @blp.response(201, CommsTemplateSchema)
    @blp.alt_response(409, description="A template of that name exists")
    @domain_errors
    def post(self, data: dict[str, Any]) -> Template:
        """Create a template: Jinja2 text such as ``Hi {{ name }}, see you at {{ time }}``."""
        template = services.save_template(data["name"], data["body"], data["description"], create=True)
        db.session.commit()
        audit_describe("comms.template.create", "template", template.name)
        return template


@blp.route("/templates/<string:name>")
class TemplateItem(MethodView):
    @auth_required("comms.read")
    @blp.response(200, CommsTemplateSchema)
    @domain_errors
    def get(self, name: str) -> Template:
        """One template."""
        return services.get_template(name)

    @auth_required("comms.send")
    @blp.arguments(CommsTemplatePutSchema)
    @blp.response(200, CommsTemplateSchema)
    @blp.alt_response(422, description="The body does not parse")
    @domain_errors
    def put(self, data: dict[str, Any], name: str) -> Template:
        """Replace the template ``name`` (create templates with POST)."""
        template = services.save_template(name, data["body"], data["description"], create=False)
        db.session.commit()
        audit_describe("comms.template.put", "template", name)
        return template

    @auth_required("comms.send")
    @blp.response(204)
    @domain_errors
    def delete(self, name: str) -> None:
        """Delete the template (texts already sent keep their text)."""
        services.delete_template(name)
        db.session.commit()
        audit_describe("comms.template.delete", "template", name)


@blp.route("/opt-outs")
class OptOuts(MethodView):
    @auth_required("comms.read")
    @blp.response(200, CommsOptOutSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[OptOut]:
        """Numbers that must not be texted, newest first."""
        return paginate(services.opt_outs_query(), pagination_parameters)

    @auth_required("comms.send")
    @blp.arguments(CommsOptOutCreateSchema, example={"number": "+263771234567"})
    @blp.response(201, CommsOptOutSchema)
    @domain_errors
    def post(self, data: dict[str, Any]) -> OptOut:
        """Stop texting a number (e.g. the person asked by phone); idempotent."""
        entry = services.opt_out(services.e164(data["number"], "/number"), "staff", actor=_actor())
        db.session.commit()
        audit_describe("comms.opt_out.create", "opt_out", entry.number)
        return entry


@blp.route("/opt-outs/<string:number>")
class OptOutItem(MethodView):
    @auth_required("comms.read")
    @blp.response(200, CommsOptOutSchema)
    @blp.alt_response(422, description="Not a phone number")
    @domain_errors
    def get(self, number: str) -> OptOut:
        """Whether ``number`` (E.164, the + optional) opted out; 404 when it did not."""
        found = db.session.scalars(services.opt_outs_query(_number(number))).one_or_none()
        if found is None:
            raise services.NotFound("That number has not opted out.")
        return found

    @auth_required("comms.send")
    @blp.response(204)
    @blp.alt_response(422, description="Not a phone number")
    @domain_errors
    def delete(self, number: str) -> None:
        """Text ``number`` again (only when the person asked to be: they may also text START)."""
        if not services.opt_in(_number(number)):
            raise services.NotFound("That number has not opted out.")
        db.session.commit()
        audit_describe("comms.opt_out.delete", "opt_out", _number(number))


def _number(raw: str) -> str:
    return services.e164(raw if raw.startswith("+") else "+" + raw, "/number")


@blp.route("/calls")
class Calls(MethodView):
    @auth_required("comms.read")
    @blp.arguments(CommsCallFilterSchema, location="query")
    @blp.response(200, CommsCallSchema(many=True))
    @blp.paginate()
    @domain_errors
    def get(self, filters: dict[str, Any], pagination_parameters: Any) -> list[Call]:
        """Calls, newest first; filter by status, direction, number, customer, ended reason."""
        if filters.get("number"):
            filters["number"] = services.e164(filters["number"], "/number")
        return paginate(voice.calls_query(**filters), pagination_parameters)

    @auth_required("comms.send")
    @blp.arguments(CommsCallCreateSchema, example={"to": "+263771234567"})
    @blp.doc(parameters=IDEMPOTENCY)
    @blp.response(202, CommsCallSchema)
    @blp.alt_response(409, description="comms-not-configured: no Vapi key or phone number")
    @domain_errors
    def post(self, data: dict[str, Any]) -> Call:
        """Have the tenant's Vapi assistant call ``to``; follow it in GET /calls/{id}."""
        call, created = voice.queue_call(
            _settings(), data["to"], assistant_id=data["assistant_id"], customer_id=data["customer_id"],
            metadata=data["metadata"], actor=_actor(), idempotency_key=_idempotency_key())
        db.session.commit()
        if created:
            audit_describe("comms.call.queue", "call", call.id)
        return call


@blp.get("/calls/<uuid:call_id>")
@auth_required("comms.read")
@blp.response(200, CommsCallSchema)
@domain_errors
def call(call_id: uuid.UUID) -> Call:
    """One call; once ended with transcript, summary, recording URL, duration and cost."""
    return voice.get_call(call_id)


@blp.get("/setup")
@auth_required("comms.read")
@blp.response(200, CommsSetupSchema)
def setup() -> dict[str, Any]:
    """The webhook URLs to enter in Twilio's and Vapi's consoles for this tenant."""
    settings, endpoint = _settings(), current_tenant_id()
    return {"twilio_status_callback": public_url(f"/api/v1/webhooks/comms/twilio/{endpoint}/status"),
            "twilio_inbound": public_url(f"/api/v1/webhooks/comms/twilio/{endpoint}/inbound"),
            "vapi_server_url": public_url(f"/api/v1/webhooks/comms/vapi/{endpoint}"),
            "twilio_configured": settings.twilio is not None,
            "vapi_configured": bool(settings.vapi and settings.vapi.get("phone_number_id"))}
