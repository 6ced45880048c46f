"""Sending a text with Twilio's official SDK (``twilio``): Messages create, errors sorted.

A new :class:`twilio.rest.Client` per send keeps tenants' credentials apart; the HTTP
connection pool is shared per process. Twilio's own error codes are kept (21610: the
recipient replied STOP; 21211: not a valid number) so the message shows why it failed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from plugins.comms.providers import TIMEOUT, TWILIO_API_URL_VAR, ProviderError, Transient, api_url, classify

UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"
_local = threading.local()


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str


def _http() -> TwilioHttpClient:
    """One pooled HTTP client per thread (requests sessions are not thread-safe)."""
    http = getattr(_local, "http", None)
    if http is None:
        http = _local.http = TwilioHttpClient(timeout=TIMEOUT)
    return http


def client(account_sid: str, auth_token: str) -> Client:
    twilio = Client(account_sid, auth_token, http_client=_http())
    base = api_url(TWILIO_API_URL_VAR)
    if base:
        twilio.api.base_url = base.rstrip("/")  # the SDK builds every Messages URL from it
    return twilio


class Sender:
    """A tenant's Twilio client, built (and its lazily imported modules loaded) up front,
    so that the moment a rate-limit slot is taken and the moment Twilio sees the text
    differ by a network hop only."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._sender: dict[str, str] = (
            {"messaging_service_sid": config["messaging_service_sid"]}
            if config.get("messaging_service_sid") else {"from_": config["from_number"]})
        self._messages = client(config["account_sid"], config["auth_token"]).messages

    def send(self, to: str, body: str, status_callback: str) -> Sent:
        """Hand one text to Twilio; raises :class:`Transient` or :class:`Permanent`."""
        try:
            message = self._messages.create(to=to, body=body, status_callback=status_callback,
                                            **self._sender)
        except TwilioRestException as exc:
            raise classify(str(exc.msg), exc.status, exc.code) from None
        except requests.RequestException as exc:
            raise Transient(f"Twilio unreachable: {type(exc).__name__}") from None
        return Sent(str(message.sid), str(message.status or "queued"))


__all__ = ["UNSUBSCRIBED", "ProviderError", "Sender", "Sent"]
