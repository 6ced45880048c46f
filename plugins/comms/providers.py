"""What the provider clients raise, shared by :mod:`.twilio_client` and :mod:`.vapi_client`.

Every call to a provider ends in a result, a :class:`Transient` failure (retry later:
rate limited, provider down, network) or a :class:`Permanent` one (give up, store why).
The API base URLs can be redirected (``PLUGBOARD_COMMS_TWILIO_API_URL``,
``PLUGBOARD_COMMS_VAPI_API_URL``), e.g. to a provider's mock server or an egress proxy.
"""

from __future__ import annotations

import os

TWILIO_API_URL_VAR = "PLUGBOARD_COMMS_TWILIO_API_URL"
VAPI_API_URL_VAR = "PLUGBOARD_COMMS_VAPI_API_URL"
TIMEOUT = 15.0  # seconds per provider request


class ProviderError(Exception):
    """A provider call failed; ``code`` is the provider's error code, if it gave one."""

    def __init__(self, message: str, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message[:500]
        self.code = code
        self.status = status


class Transient(ProviderError):
    """Worth retrying with back-off: 429, 5xx, timeouts, refused connections."""


class Permanent(ProviderError):
    """Retrying will not help (bad number, unsubscribed recipient, bad credentials)."""


def api_url(variable: str) -> str | None:
    """The redirected base URL of a provider's API, or None for the real one."""
    return os.environ.get(variable) or None


def classify(message: str, status: int | None, code: int | None = None) -> ProviderError:
    if status is None or status == 429 or status >= 500:
        return Transient(message, code, status)
    return Permanent(message, code, status)
