"""The ``comms`` plugin: its manifest and thin hook implementations.

Staff text customers (``/api/v1/comms/sms``, templates, opt-outs) and start AI voice
calls (``/api/v1/comms/calls``); Twilio and Vapi report back through
``/api/v1/webhooks/comms/…``. Other plugins text through ``plugboard_send_sms``.
See ``docs/comms.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flask import Flask
from flask_smorest import Blueprint

from hookspecs import JobSpec, PluginInfo, hookimpl
from kernel.api import add_demo_seeder
from plugins.comms import api, demo, hooks, jobs, people, webhooks

E164 = r"^\+[1-9][0-9]{6,14}$"
SECRET = {"type": "string", "minLength": 1, "maxLength": 200, "writeOnly": True}


def _text(pattern: str | None = None, description: str = "") -> dict[str, Any]:
    field: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100,
                             "description": description}
    if pattern:
        field["pattern"] = pattern
    return field


TWILIO = {
    "type": "object", "additionalProperties": False,
    "required": ["account_sid", "auth_token"],
    "properties": {
        "account_sid": _text(r"^AC[0-9a-fA-F]{32}$", "Account SID (AC…), from the Twilio console"),
        "auth_token": {**SECRET, "description": "Auth token: signs Twilio's callbacks"},
        "from_number": _text(E164, "Sender number, E.164 (or use messaging_service_sid)"),
        "messaging_service_sid": _text(r"^MG[0-9a-fA-F]{32}$", "Messaging service SID (MG…)"),
        "help_reply": {"type": "string", "maxLength": 320,
                       "description": "Answer to HELP/INFO (absent: Twilio's own answer)"},
    },
}
VAPI = {
    "type": "object", "additionalProperties": False,
    "required": ["api_key"],
    "properties": {
        "api_key": {**SECRET, "description": "Private API key, from the Vapi dashboard"},
        "assistant_id": _text(description="Default assistant for calls"),
        "phone_number_id": _text(description="Vapi phone number calls are made from"),
        "webhook_secret": {**SECRET, "description": "Server URL secret or HMAC key Vapi signs with"},
    },
}

plugin_info = PluginInfo(
    name="comms",
    version="1.0.0",
    title="Comms",
    description="Texts through Twilio and AI voice calls through Vapi: templates, opt-outs, "
                "message and call logs.",
    kernel=">=1.1,<2",  # contract 1.1: customers, emit and enqueue, payment and sms hooks
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "examples": [{  # Twilio's test credentials format; Vapi ids as its dashboard shows them
            "twilio": {"account_sid": "AC" + "0" * 32, "auth_token": "example-token",
                       "from_number": "+15005550006"},
            "vapi": {"api_key": "example-key", "assistant_id": "example-assistant",
                     "phone_number_id": "example-number", "webhook_secret": "example-secret"},
            "sms_per_second": 1,
        }],
        "properties": {
            "twilio": TWILIO,
            "vapi": VAPI,
            "sms_per_second": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000,
                               "default": 1, "description": "Most texts that leave per second"},
        },
    },
    permissions={"comms.send": "manager", "comms.read": "support"},
    migrations=str(Path(__file__).resolve().parent / "migrations"),
)


@hookimpl
def plugboard_blueprints(app: Flask) -> list[Blueprint]:
    add_demo_seeder(app, demo.seed)
    return [api.blp]


@hookimpl
def plugboard_webhook_blueprints(app: Flask) -> list[Blueprint]:
    return [webhooks.blp]


@hookimpl
def plugboard_jobs() -> list[JobSpec]:
    return jobs.specs()


@hookimpl
def plugboard_config_validate(tenant_id: uuid.UUID, config: Mapping[str, Any]) -> Sequence[Mapping[str, str]]:
    return hooks.config_problems(config)


@hookimpl
def plugboard_send_sms(tenant_id: uuid.UUID, to: str, body: str, ref: str | None) -> Mapping[str, Any]:
    return hooks.send_sms(tenant_id, to, body, ref)


@hookimpl
def plugboard_customer_timeline(customer_id: uuid.UUID) -> Sequence[Mapping[str, Any]]:
    return people.customer_timeline(customer_id)


@hookimpl
def plugboard_customer_export(customer_id: uuid.UUID) -> Mapping[str, Any]:
    return people.customer_export(customer_id)


@hookimpl
def plugboard_customer_erase(customer_id: uuid.UUID) -> None:
    people.customer_erase(customer_id)
