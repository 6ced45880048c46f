"""Starting an outbound AI voice call with Vapi's official SDK (``vapi-server-sdk``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from vapi import Vapi
from vapi.core.api_error import ApiError

from plugins.comms.providers import TIMEOUT, VAPI_API_URL_VAR, Transient, api_url, classify


@dataclass(frozen=True)
class Started:
    call_id: str
    status: str


def client(api_key: str) -> Vapi:
    base = api_url(VAPI_API_URL_VAR)
    return Vapi(token=api_key, timeout=TIMEOUT, **({"base_url": base.rstrip("/")} if base else {}))


def start_call(config: dict[str, Any], to: str, assistant_id: str,
               metadata: dict[str, Any]) -> Started:
    """Ask Vapi to call ``to`` with ``assistant_id``; ``metadata`` comes back in its webhooks."""
    try:
        call = client(config["api_key"]).calls.create(
            assistant_id=assistant_id, phone_number_id=config["phone_number_id"],
            customer={"number": to}, assistant_overrides={"metadata": metadata})
    except ApiError as exc:
        raise classify(f"Vapi answered {exc.status_code}: {str(exc.body)[:300]}", exc.status_code) from None
    except httpx.HTTPError as exc:
        raise Transient(f"Vapi unreachable: {type(exc).__name__}") from None
    call_id = getattr(call, "id", None)
    if not call_id:  # a batch answer: we never ask for one
        raise classify("Vapi answered without a call id", 502)
    return Started(str(call_id), str(getattr(call, "status", None) or "queued"))
