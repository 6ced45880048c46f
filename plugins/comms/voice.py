"""AI voice calls through Vapi: starting them and recording what Vapi reports. No Flask.

A call is stored ``queued`` and started by a job (:func:`.jobs.start_call`); Vapi then
posts server messages to the tenant's webhook. Statuses only move forward
(:data:`STATUS_RANK`); the end-of-call report fills in transcript, summary, recording,
duration, cost and the ended reason, and emits ``comms.call.ended`` once. Calls Vapi
reports that we did not start (inbound calls to the tenant's Vapi number) are recorded
too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from kernel.api import db, emit, enqueue, utcnow
from plugins.comms import people
from plugins.comms.models import INBOUND, OUTBOUND, Call
from plugins.comms.services import CommsError, NotConfigured, NotFound, Settings, e164, lock_sid

STATUS_RANK = {"scheduled": 0, "queued": 0, "ringing": 1, "in-progress": 2, "forwarding": 3,
               "ended": 4, "failed": 4}
METADATA_KEY = "plugboard_call_id"


class NoAssistant(CommsError):
    pointer = "/assistant_id"


def _vapi(settings: Settings) -> Mapping[str, Any]:
    if not settings.vapi or not settings.vapi.get("phone_number_id"):
        raise NotConfigured("Configure Vapi first (PUT /api/v1/plugins/comms/config: "
                            "vapi.api_key and phone_number_id).")
    return settings.vapi


def queue_call(settings: Settings, to: str, *, assistant_id: str | None = None,
               customer_id: uuid.UUID | None = None, metadata: Mapping[str, Any] | None = None,
               actor: str | None = None, idempotency_key: str | None = None) -> tuple[Call, bool]:
    """Store an outbound call as ``queued``; a job asks Vapi to place it after commit."""
    vapi = _vapi(settings)
    number = e164(to)
    assistant = assistant_id or vapi.get("assistant_id")
    if not assistant:
        raise NoAssistant("Give assistant_id, or set vapi.assistant_id in the plugin's config.")
    if idempotency_key:
        found = db.session.scalars(
            sa.select(Call).where(Call.idempotency_key == idempotency_key)).one_or_none()
        if found is not None:
            return found, False
    call = Call(direction=OUTBOUND, number=number, status="queued", assistant_id=assistant,
                customer_id=customer_id or people.customer_for_phone(number),
                call_metadata=dict(metadata or {}), created_by=actor, idempotency_key=idempotency_key)
    db.session.add(call)
    db.session.flush()
    enqueue("comms.start_call", key=f"comms.call:{call.id}", call_id=str(call.id))
    return call, True


def calls_query(status: str | None = None, direction: str | None = None, number: str | None = None,
                customer_id: uuid.UUID | None = None,
                ended_reason: str | None = None) -> sa.Select[tuple[Call]]:
    query = sa.select(Call).order_by(Call.created_at.desc(), Call.id)
    for column, value in ((Call.status, status), (Call.direction, direction), (Call.number, number),
                          (Call.customer_id, customer_id), (Call.ended_reason, ended_reason)):
        if value:
            query = query.where(column == value)
    return query


def get_call(call_id: uuid.UUID) -> Call:
    call = db.session.get(Call, call_id)
    if call is None:
        raise NotFound("No such call.")
    return call


def advance(call: Call, status: str) -> bool:
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(call.status, 0):
        return False
    call.status, call.updated_at = status, utcnow()
    if status == "in-progress" and call.started_at is None:
        call.started_at = call.updated_at
    return True


# -- Vapi server messages ------------------------------------------------------------


def assistant_for_request(settings: Settings) -> dict[str, Any]:
    """The answer to ``assistant-request``: the tenant's default assistant, from config only."""
    assistant = (settings.vapi or {}).get("assistant_id")
    if not assistant:
        return {"error": "This business has no voice assistant configured."}
    return {"assistantId": assistant}


def _our_id(call: Mapping[str, Any]) -> uuid.UUID | None:
    metadata = (call.get("assistantOverrides") or {}).get("metadata") or call.get("metadata") or {}
    try:
        return uuid.UUID(str(metadata.get(METADATA_KEY)))
    except ValueError:
        return None


def call_for(report: Mapping[str, Any]) -> Call | None:
    """Our row for the call a Vapi message is about (created for calls we did not start)."""
    call = report.get("call") or {}
    provider_id = str(call.get("id") or "")[:64]
    if not provider_id:
        return None
    lock_sid(provider_id)  # two first messages of one call must not both create it
    found = db.session.scalars(sa.select(Call).where(Call.provider_call_id == provider_id)).one_or_none()
    ours = _our_id(call)
    if found is None and ours is not None:
        found = db.session.get(Call, ours)
        if found is not None and found.provider_call_id is None:
            found.provider_call_id = provider_id
    if found is None:
        number = str((call.get("customer") or {}).get("number") or "")[:20] or None
        found = Call(direction=INBOUND if call.get("type") == "inboundPhoneCall" else OUTBOUND,
                     number=number, status="queued", provider_call_id=provider_id,
                     assistant_id=call.get("assistantId"),
                     customer_id=people.customer_for_phone(number) if number else None)
        db.session.add(found)
    db.session.flush()
    return found


def _when(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _cost(value: Any) -> decimal.Decimal | None:
    try:
        return None if value is None else decimal.Decimal(str(value)).quantize(decimal.Decimal("0.000001"))
    except decimal.InvalidOperation:
        return None


def record_end(call: Call, report: Mapping[str, Any]) -> bool:
    """Apply an end-of-call report (once); emits ``comms.call.ended``."""
    if call.ended_reason is not None:
        return False  # a repeated report
    artifact = report.get("artifact") or {}
    analysis = report.get("analysis") or {}
    recording = artifact.get("recording") or {}
    call.transcript = artifact.get("transcript") or report.get("transcript")
    call.summary = analysis.get("summary") or report.get("summary")
    call.recording_url = (artifact.get("recordingUrl") or recording.get("url")
                          or report.get("recordingUrl") or None)
    call.duration_seconds = _float(report.get("durationSeconds"))
    call.cost = _cost(report.get("cost"))
    call.ended_reason = str(report.get("endedReason") or "unknown")[:120]
    call.started_at = _when(report.get("startedAt")) or call.started_at
    call.ended_at = _when(report.get("endedAt")) or utcnow()
    call.status, call.updated_at = "ended", utcnow()
    db.session.flush()
    emit("comms.call.ended", {"call_id": str(call.id), "customer_id": str(call.customer_id or "") or None,
                              "ended_reason": call.ended_reason, "duration_seconds": call.duration_seconds})
    return True


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def handle(settings: Settings, message: Mapping[str, Any]) -> dict[str, Any]:
    """One Vapi server message (already authenticated); returns the JSON answer."""
    kind = message.get("type")
    if kind == "assistant-request":
        return assistant_for_request(settings)
    if kind not in ("status-update", "end-of-call-report"):
        return {}  # transcripts, speech updates, tool calls: not ours to record
    call = call_for(message)
    if call is None:
        return {}
    if kind == "status-update":
        advance(call, str(message.get("status") or ""))
    else:
        record_end(call, message)
    return {}
