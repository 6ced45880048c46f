"""Jobs: send a queued text through Twilio, place a queued call through Vapi.

Both take ids and run in the tenant's scope (the kernel's wrapper opens it and commits).
A provider that is rate limiting or down (429, 5xx, network) is retried here with
exponential back-off; a permanent refusal is stored on the row and the job ends. The
SID Twilio gives is committed at once, before anything else, so a crash afterwards never
sends the text twice, and status callbacks that raced ahead of it are applied then.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from hookspecs import JobSpec
from kernel.api import db, plugin_config, public_url, utcnow
from plugins.comms import ratelimit, services, twilio_client, vapi_client, voice
from plugins.comms.models import Call, Message
from plugins.comms.providers import Permanent, ProviderError, Transient

log = logging.getLogger("plugboard.comms")
BACKOFF = (1.0, 2.0, 4.0, 8.0)  # seconds before each retry; 15 s in all, then the text fails
T = TypeVar("T")


def specs() -> list[JobSpec]:
    # below the worker's stop grace period (11 min in compose), so a deploy never cuts a send
    return [JobSpec("comms.send_sms", send_sms, queue="comms", timeout=600),
            JobSpec("comms.start_call", start_call, queue="comms", timeout=300)]


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


def send_sms(message_id: str, tenant_id: uuid.UUID) -> str:
    message = db.session.get(Message, uuid.UUID(message_id))
    if message is None or message.status != "queued" or message.provider_sid:
        return "nothing to do"
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
