"""Vapi's HMAC credential: fresh timestamps only, constant-time compares; Twilio's validator."""

from __future__ import annotations

import hashlib
import hmac
import time

from twilio.request_validator import RequestValidator

from plugins.comms.signatures import twilio_valid, vapi_valid

BODY = b'{"message": {"type": "status-update"}}'


def _hmac(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def test_vapi_hmac_with_and_without_a_timestamp() -> None:
    now = time.time()
    stamp = str(int(now))
    signed = {"X-Signature": _hmac("s3cret", stamp.encode() + b"." + BODY), "X-Timestamp": stamp}
    assert vapi_valid("s3cret", signed, BODY, now)
    assert not vapi_valid("s3cret", signed, BODY + b" ", now)  # body changed
    assert not vapi_valid("s3cret", signed, BODY, now + 301)  # a replay, six minutes on
    assert vapi_valid("s3cret", {"X-Signature": "sha256=" + _hmac("s3cret", BODY)}, BODY, now)
    assert not vapi_valid("s3cret", {"X-Signature": _hmac("other", BODY)}, BODY, now)
    assert not vapi_valid("", {"X-Vapi-Secret": ""}, BODY, now)  # no secret configured: nothing passes
    assert not vapi_valid(
        "s3cret", {"X-Signature": _hmac("s3cret", BODY), "X-Timestamp": "yesterday"}, BODY, now
    )


def test_twilio_signature_covers_url_and_every_field() -> None:
    url, form = (
        "https://hooks.example/api/v1/webhooks/comms/twilio/x/status",
        {"MessageSid": "SM1", "MessageStatus": "sent"},
    )
    signature = RequestValidator("tok").compute_signature(url, form)
    assert twilio_valid("tok", url, form, signature)
    assert not twilio_valid("tok", url.replace("https", "http"), form, signature)
    assert not twilio_valid("tok", url, {**form, "MessageStatus": "delivered"}, signature)
    assert not twilio_valid("", url, form, signature)
    assert not twilio_valid("tok", url, form, None)
