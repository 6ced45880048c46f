"""What the plugin's cooperation and lifecycle hooks do (``plugin.py`` stays thin)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kernel.api import plugin_config, tenant_scope
from plugins.comms import errors, services


def config_problems(config: Mapping[str, Any]) -> list[dict[str, str]]:
    """Checks JSON Schema cannot express: one sender, and it is a real number."""
    problems: list[dict[str, str]] = []
    twilio = config.get("twilio") or {}
    if twilio and bool(twilio.get("from_number")) == bool(twilio.get("messaging_service_sid")):
        problems.append({"pointer": "/twilio/from_number",
                         "message": "Give either from_number or messaging_service_sid (one sender)."})
    if twilio.get("from_number"):
        try:
            services.e164(twilio["from_number"])
        except services.InvalidNumber as exc:
            problems.append({"pointer": "/twilio/from_number", "message": exc.detail})
    return problems


def send_sms(tenant_id: uuid.UUID, to: str, body: str, ref: str | None) -> dict[str, Any]:
    """``plugboard_send_sms``: queue in the caller's transaction, or refuse."""
    with tenant_scope(tenant_id):
        try:
            settings = services.Settings.from_config(plugin_config("comms"))
            text = services.compose(body, None, {})
            message, _ = services.queue_sms(settings, to, text, ref=ref)
        except services.CommsError as exc:
            raise errors.refusal(exc) from None
        return {"message_id": str(message.id), "status": message.status}
