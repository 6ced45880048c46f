"""Jobs: send a queued text through Twilio, place a queued call through Vapi.

Both take ids and run in the tenant's scope (the kernel's wrapper opens it and commits).
A provider that is rate limiting or down (429, 5xx, network) is retried here with
exponential back-off; a permanent refusal is stored on the row and the job ends. The
SID Twilio gives is committed at once, before anything else, so a crash afterwards never
sends the text twice, and status callbacks that raced ahead of it are applied then.

A send is claimed once (``send_started_at``, a compare-and-set) before Twilio is called,
so two jobs for one text never both send it. ``comms.sweep_stuck`` (every 5 minutes)
re-queues a text whose job was lost before it started (still unclaimed after
``LOST_AFTER``), and ends as failed a text whose send was cut off between the claim and
Twilio's answer (claimed, no SID, after ``INTERRUPTED_AFTER``, longer than the job's
timeout): Twilio may or may not have taken it, so it is never sent blindly again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app

from hookspecs import JobSpec
from kernel.api import db, enqueue, plugin_config, public_url, utcnow
from plugins.comms import ratelimit, services, twilio_client, vapi_client, voice
from plugins.comms.models import Call, Message
from plugins.comms.providers import Permanent, ProviderError, Transient

log = logging.getLogger("plugboard.comms")
BACKOFF = (1.0, 2.0, 4.0, 8.0)  # seconds before each retry; 15 s in all, then the text fails
T = TypeVar("T")
SEND_TIMEOUT = 600  # below the worker's stop grace period (11 min in compose): a deploy never cuts a send
LOST_AFTER = dt.timedelta(minutes=15)  # queued and never claimed: its job was lost
INTERRUPTED_AFTER = dt.timedelta(seconds=SEND_TIMEOUT) + dt.timedelta(minutes=5)
INTERRUPTED = ("The send was interrupted before Twilio answered; Twilio may or may not have "
               "accepted the text. Check the Twilio console before sending it again.")


def specs() -> list[JobSpec]:
    return [JobSpec("comms.send_sms", send_sms, queue="comms", timeout=SEND_TIMEOUT),
            JobSpec("comms.start_call", start_call, queue="comms", timeout=300),
            JobSpec("comms.sweep_stuck", sweep_stuck, queue="comms", cron="*/5 * * * *")]


def status_callback_url(tenant_id: uuid.UUID) -> str:
    return public_url(f"/api/v1/webhooks/comms/twilio/{tenant_id}/status")


def with_retries(call: Callable[[], T], what: str) -> tuple[T | None, ProviderError | None, int]:
    """``call()`` retried on :class:`Transient`; returns (result, final error, attempts)."""
    for attempt in range(len(BACKOFF) + 1):
        try:
            return call(), None, attempt + 1
        except Permanent as exc:
            return None, exc, attempt + 1
        except Transient as exc:
            if attempt == len(BACKOFF):
                return None, exc, attempt + 1
            log.info("provider busy, retrying", extra={"what": what, "status": exc.status,
                                                       "attempt": attempt + 1})
            time.sleep(BACKOFF[attempt])
    raise AssertionError("unreachable")


def _fail(message: Message, error: str, code: int | None = None) -> str:
    services.advance(message, "failed", code, error[:500])
    return "failed"


def _message(message_id: str) -> Message:
    found = db.session.get(Message, uuid.UUID(message_id))
    assert found is not None  # messages are never deleted
    return found


def _claim(message_id: uuid.UUID) -> bool:
    """Mark the text's send as started, once: False when another job did already."""
    claimed = db.session.execute(
        sa.update(Message)
        .where(Message.id == message_id, Message.status == "queued",
               Message.provider_sid.is_(None), Message.send_started_at.is_(None))
        .values(send_started_at=utcnow())
        .execution_options(synchronize_session=False))
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def send_sms(message_id: str, tenant_id: uuid.UUID) -> str:
    if not _claim(uuid.UUID(message_id)):
        return "nothing to do"
    message = _message(message_id)
    settings = services.Settings.from_config(plugin_config("comms"))
    if not settings.twilio:
        return _fail(message, "Twilio is not configured for this tenant.")
    if services.opted_out(message.to_number):
        return _fail(message, "The recipient opted out (STOP) before the text left.")
    to, body, callback = message.to_number, message.body, status_callback_url(tenant_id)
    sender = twilio_client.Sender(dict(settings.twilio))
    db.session.commit()  # no transaction held open while waiting for a slot or for Twilio
    ratelimit.limiter(current_app).acquire(tenant_id, settings.sms_per_second)
    if services.opted_out(to):  # a STOP may have come in while we waited
        return _fail(_message(message_id), "The recipient opted out (STOP) before the text left.")
    sent, error, attempts = with_retries(lambda: sender.send(to, body, callback), "sms")
    message = _message(message_id)
    message.attempts += attempts
    if sent is None:
        assert error is not None
        if error.code == twilio_client.UNSUBSCRIBED:
            services.opt_out(message.to_number, "provider")
        return _fail(message, error.message, error.code)
    message.provider_sid, message.submitted_at = sent.sid, utcnow()
    services.advance(message, sent.status)
    db.session.commit()
    services.lock_sid(sent.sid)  # see services.record_status: callbacks that came first
    services.apply_recorded(message)
    return "sent"


def sweep_stuck(tenant_id: uuid.UUID) -> str:
    """Re-queue texts whose send job was lost; fail those whose send was cut off."""
    now = utcnow()
    stuck = db.session.scalars(sa.select(Message).where(
        Message.direction == "outbound", Message.status == "queued", Message.provider_sid.is_(None),
        sa.or_(sa.and_(Message.send_started_at.is_(None), Message.created_at < now - LOST_AFTER),
               Message.send_started_at < now - INTERRUPTED_AFTER),
    ).order_by(Message.created_at).limit(500))
    requeued = failed = 0
    for message in stuck:
        if message.send_started_at is None:
            enqueue("comms.send_sms", key=f"comms.sms:{message.id}:swept",
                    message_id=str(message.id))
            requeued += 1
        else:
            _fail(message, INTERRUPTED)
            failed += 1
    return f"{requeued} re-queued, {failed} failed"


def start_call(call_id: str, tenant_id: uuid.UUID) -> str:
    call = db.session.get(Call, uuid.UUID(call_id))
    if call is None or call.status != "queued" or call.provider_call_id:
        return "nothing to do"
    settings = services.Settings.from_config(plugin_config("comms"))
    if not settings.vapi or not call.number or not call.assistant_id:
        call.status, call.error = "failed", "Vapi is not configured for this tenant."
        return "failed"
    config, to, assistant = dict(settings.vapi), call.number, call.assistant_id
    metadata = {**call.call_metadata, voice.METADATA_KEY: str(call.id)}
    db.session.commit()
    started, error, _ = with_retries(lambda: vapi_client.start_call(config, to, assistant, metadata), "call")
    call = db.session.get(Call, uuid.UUID(call_id))
    assert call is not None
    if started is None:
        assert error is not None
        call.status, call.error, call.updated_at = "failed", error.message, utcnow()
        return "failed"
    if call.provider_call_id is None:  # a webhook may have linked it already
        call.provider_call_id = started.call_id
    voice.advance(call, started.status)
    return "started"
