"""Texts: queueing, templates, opt-outs, delivery statuses and inbound messages. No Flask.

Every function runs inside the caller's tenant scope, flushes and leaves the commit to
the view, job or hook that called it. Failures are the :class:`CommsError` subclasses
below; :mod:`.errors` turns them into problem responses (one table for every route).
Outbound statuses only move forward (:data:`STATUS_RANK`), whatever order Twilio's
callbacks arrive in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
import sqlalchemy as sa
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy.exc import IntegrityError

from kernel.api import db, emit, enqueue, utcnow
from plugins.comms import people, segments
from plugins.comms.models import INBOUND, OUTBOUND, Message, OptOut, StatusCallback, Template

MAX_BODY = 1600  # Twilio refuses longer bodies (error 21617)
#: outbound statuses by progress; a callback never moves a message to a lower rank, and
#: the terminal ones (rank 4) never change into one another
STATUS_RANK = {"queued": 0, "accepted": 0, "scheduled": 0, "sending": 1, "sent": 2,
               "delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "read": 5}
ORDERED = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "canceled", "read")


class CommsError(Exception):
    """Base of the expected failures; ``pointer`` names the request field at fault."""

    pointer: str | None = None

    def __init__(self, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer or self.pointer


class NotConfigured(CommsError):
    pass


class InvalidNumber(CommsError):
    pointer = "/to"


class InvalidText(CommsError):
    pointer = "/body"


class TemplateProblem(CommsError):
    pointer = "/variables"


class OptedOut(CommsError):
    pass


class NotFound(CommsError):
    pass


class NameTaken(CommsError):
    pointer = "/name"


@dataclass(frozen=True)
class Settings:
    """A tenant's comms config (plaintext secrets: never log or return it)."""

    twilio: Mapping[str, Any] | None
    vapi: Mapping[str, Any] | None
    sms_per_second: float = 1.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        twilio = config.get("twilio") or None
        if twilio and not (twilio.get("from_number") or twilio.get("messaging_service_sid")):
            twilio = None  # cannot send without a sender
        return cls(twilio, config.get("vapi") or None, float(config.get("sms_per_second", 1)))

    def require_twilio(self) -> Mapping[str, Any]:
        if not self.twilio:
            raise NotConfigured("Configure Twilio first (PUT /api/v1/plugins/comms/config: "
                                "twilio.account_sid, auth_token and from_number or messaging_service_sid).")
        return self.twilio


def e164(number: str, pointer: str = "/to") -> str:
    """``number`` as E.164 (``+263771234567``); raises :class:`InvalidNumber`."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(f"{number!r} is not a valid phone number in international form, "
                            "e.g. +263771234567.", pointer)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# -- templates ----------------------------------------------------------------------

_jinja = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def check_template(body: str) -> None:
    try:
        _jinja.parse(body)
    except TemplateError as exc:
        raise InvalidText(f"The template does not parse: {exc}", "/body") from None


def render(body: str, variables: Mapping[str, Any]) -> str:
    """``body`` rendered in Jinja2's sandbox; a missing variable is an error, not blank."""
    try:
        return _jinja.from_string(body).render(**variables)
    except TemplateError as exc:
        raise TemplateProblem(f"The template could not be rendered: {exc}") from None


def get_template(name: str) -> Template:
    found = db.session.scalars(sa.select(Template).where(Template.name == name)).one_or_none()
    if found is None:
        raise NotFound(f"No template named {name!r}.")
    return found


def templates_query() -> sa.Select[tuple[Template]]:
    return sa.select(Template).order_by(Template.name)


def save_template(name: str, body: str, description: str | None, *, create: bool) -> Template:
    """Create (``create``: 409 when taken) or replace (404 when missing) template ``name``."""
    check_template(body)
    found = db.session.scalars(sa.select(Template).where(Template.name == name)).one_or_none()
    if found is not None and create:
        raise NameTaken(f"A template named {name!r} exists; PUT it to replace it.")
    if found is None and not create:
        raise NotFound(f"No template named {name!r}; POST /api/v1/comms/templates creates one.")
    if found is None:
        found = Template(name=name, body=body, description=description)
        db.session.add(found)
    found.body, found.description, found.updated_at = body, description, utcnow()
    db.session.flush()
    return found


def delete_template(name: str) -> None:
    db.session.delete(get_template(name))
    db.session.flush()


def compose(body: str | None, template: str | None, variables: Mapping[str, Any]) -> str:
    """The text to send: ``body`` as given, or template ``template`` rendered."""
    text = body if template is None else render(get_template(template).body, variables)
    if text is None or not text.strip():
        raise InvalidText("The text is empty.", "/body" if template is None else "/variables")
    if len(text) > MAX_BODY:
        raise InvalidText(f"The text has {len(text)} characters; at most {MAX_BODY} are sent.")
    return text


# -- opt-outs -----------------------------------------------------------------------


def opted_out(number: str) -> bool:
    return db.session.scalar(sa.select(OptOut.id).where(OptOut.number == number)) is not None


def opt_out(number: str, source: str, keyword: str | None = None, actor: str | None = None) -> OptOut:
    """Record that ``number`` must not be texted (idempotent)."""
    found = db.session.scalars(sa.select(OptOut).where(OptOut.number == number)).one_or_none()
    if found is None:
        found = OptOut(number=number, source=source, keyword=keyword, created_by=actor)
        db.session.add(found)
        db.session.flush()
    return found


def opt_in(number: str) -> bool:
    """Forget ``number``'s opt-out; False when it had none."""
    found = db.session.scalars(sa.select(OptOut).where(OptOut.number == number)).one_or_none()
    if found is None:
        return False
    db.session.delete(found)
    db.session.flush()
    return True


def opt_outs_query(number: str | None = None) -> sa.Select[tuple[OptOut]]:
    query = sa.select(OptOut).order_by(OptOut.created_at.desc(), OptOut.number)
    return query.where(OptOut.number == number) if number else query


# -- sending ------------------------------------------------------------------------


def queue_sms(settings: Settings, to: str, text: str, *, template: str | None = None,
              customer_id: uuid.UUID | None = None, ref: str | None = None,
              actor: str | None = None, idempotency_key: str | None = None) -> tuple[Message, bool]:
    """Store a text as ``queued`` and send it after commit. Returns (message, created).

    The same ``idempotency_key`` again answers the first message and queues nothing.
    """
    settings.require_twilio()
    number = e164(to)
    if idempotency_key:
        found = db.session.scalars(
            sa.select(Message).where(Message.idempotency_key == idempotency_key)).one_or_none()
        if found is not None:
            return found, False
    if opted_out(number):
        raise OptedOut(f"{number} replied STOP: texts to it are refused until it replies START.")
    counted = segments.count(text)
    message = Message(direction=OUTBOUND, to_number=number, body=text, template=template,
                      status="queued", segments=counted.count, encoding=counted.encoding,
                      customer_id=customer_id or people.customer_for_phone(number), ref=ref,
                      created_by=actor, idempotency_key=idempotency_key)
    try:
        with db.session.begin_nested():  # a concurrent twin with the same key: answer its message
            db.session.add(message)
    except IntegrityError:
        found = db.session.scalars(
            sa.select(Message).where(Message.idempotency_key == idempotency_key)).one()
        return found, False
    enqueue("comms.send_sms", key=f"comms.sms:{message.id}", message_id=str(message.id))
    return message, True


def messages_query(direction: str | None = None, status: str | None = None, number: str | None = None,
                   customer_id: uuid.UUID | None = None) -> sa.Select[tuple[Message]]:
    query = sa.select(Message).order_by(Message.created_at.desc(), Message.id)
    if direction:
        query = query.where(Message.direction == direction)
    if status:
        query = query.where(Message.status == status)
    if number:
        query = query.where(sa.or_(Message.to_number == number, Message.from_number == number))
    if customer_id:
        query = query.where(Message.customer_id == customer_id)
    return query


def get_message(message_id: uuid.UUID) -> Message:
    message = db.session.get(Message, message_id)
    if message is None:
        raise NotFound("No such message.")
    return message


# -- statuses -----------------------------------------------------------------------


def advance(message: Message, status: str, error_code: int | None = None,
            error_message: str | None = None) -> bool:
    """Move ``message`` to ``status`` if that is forward; emits ``comms.sms.updated``."""
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(message.status, 0):
        return False
    message.status, message.updated_at = status, utcnow()
    if error_code is not None or error_message:
        message.error_code, message.error_message = error_code, error_message
    if status == "delivered":
        message.delivered_at = message.updated_at
    emit("comms.sms.updated", {"message_id": str(message.id), "status": status, "ref": message.ref,
                               "error_code": message.error_code})
    return True


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def record_status(sid: str, status: str, error_code: str | None) -> str:
    """A verified status callback: stored once per (SID, status), applied if forward.

    Returns ``duplicate``, ``applied``, ``stale`` (older than what we know) or
    ``pending`` (the send job has not stored the SID yet: it applies it when it does).
    The hot path is two statements: the dedupe insert and one guarded UPDATE.
    """
    if status not in STATUS_RANK:
        raise InvalidText(f"Unknown MessageStatus {status!r}.", "/MessageStatus")
    code = _int(error_code)
    if not _insert_callback(sid, status, code):
        return "duplicate"
    if _advance_by_sid(sid, status, code):
        return "applied"
    if db.session.scalar(sa.select(Message.id).where(Message.provider_sid == sid)) is not None:
        return "stale"
    lock_sid(sid)  # serialises with the send job storing this SID (see jobs.py)
    message = _by_sid(sid)
    if message is None:
        return "pending"
    return "applied" if advance(message, status, code, _error_text(code)) else "stale"


def _rank(column: Any) -> Any:
    return sa.case(STATUS_RANK, value=column, else_=-1)


def _advance_by_sid(sid: str, status: str, code: int | None) -> bool:
    """``advance`` as one UPDATE … WHERE the stored status ranks lower; emits on change."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if code is not None:
        values.update(error_code=code, error_message=_error_text(code))
    if status == "delivered":
        values["delivered_at"] = now
    row = db.session.execute(
        sa.update(Message).where(Message.provider_sid == sid, _rank(Message.status) < STATUS_RANK[status])
        .values(**values).returning(Message.id, Message.ref, Message.error_code)
        .execution_options(synchronize_session=False)).first()
    if row is None:
        return False
    emit("comms.sms.updated", {"message_id": str(row.id), "status": status, "ref": row.ref,
                               "error_code": row.error_code})
    return True


def apply_recorded(message: Message) -> None:
    """Apply callbacks that arrived before the send job stored ``message``'s SID."""
    recorded = db.session.execute(
        sa.select(StatusCallback.status, StatusCallback.error_code)
        .where(StatusCallback.provider_sid == message.provider_sid)).all()
    for status, code in sorted(recorded, key=lambda r: STATUS_RANK.get(r[0], -1)):
        advance(message, status, code, _error_text(code))


def _error_text(code: int | None) -> str | None:
    return f"Twilio error {code}" if code else None


def _by_sid(sid: str) -> Message | None:
    return db.session.scalars(sa.select(Message).where(Message.provider_sid == sid)).one_or_none()


def lock_sid(sid: str) -> None:
    """A transaction lock on ``sid`` (PostgreSQL; SQLite serialises writers anyway)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:sid))"), {"sid": sid})


def _insert_callback(sid: str, status: str, code: int | None) -> bool:
    """Insert the dedupe row; False when this (SID, status) was already recorded."""
    dialect = db.session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    from kernel.api import current_tenant_id

    result = db.session.execute(
        insert(StatusCallback).values(id=uuid.uuid4(), tenant_id=current_tenant_id(), provider_sid=sid,
                                      status=status, error_code=code, received_at=utcnow())
        .on_conflict_do_nothing().returning(StatusCallback.id))
    return result.first() is not None


# -- inbound ------------------------------------------------------------------------

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword(body: str) -> str | None:
    """``stop``, ``start`` or ``help`` when the whole text is such a keyword (any case)."""
    word = body.strip().strip(".!").upper()
    for kind, words in (("stop", STOP_WORDS), ("start", START_WORDS), ("help", HELP_WORDS)):
        if word in words:
            return kind
    return None


def receive(sid: str, from_: str, to: str, body: str) -> tuple[Message, str | None]:
    """Store an inbound text once (per SID), honour STOP/START; returns (message, keyword)."""
    found = _by_sid(sid)
    kind = keyword(body)
    if found is not None:
        return found, kind
    sender = e164(from_, "/From")
    message = Message(direction=INBOUND, to_number=e164(to, "/To"), from_number=sender, body=body,
                      status="received", provider_sid=sid, segments=segments.count(body).count,
                      encoding=segments.count(body).encoding,
                      customer_id=people.customer_for_phone(sender))
    try:
        with db.session.begin_nested():  # Twilio retrying while the first is being stored
            db.session.add(message)
    except IntegrityError:
        found = _by_sid(sid)
        assert found is not None
        return found, kind
    if kind == "stop":
        opt_out(sender, "keyword", body.strip().upper()[:32])
    elif kind == "start":
        opt_in(sender)
    db.session.flush()
    emit("comms.sms.received", {"message_id": str(message.id), "customer_id": _str(message.customer_id),
                                "keyword": kind})
    return message, kind


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None
