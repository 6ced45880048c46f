"""The tenant's payments config (JSON Schema) and where each provider's settings come from.

A tenant's own payments use its config (``PUT /api/v1/plugins/payments/config``);
payments to the platform's account (``account == "platform"``: what the platform itself
collects, e.g. billing's invoices to tenants) use the platform's settings from the
environment, ``PLUGBOARD_PAYMENTS_<PROVIDER>_<SETTING>`` (``PLUGBOARD_PAYMENTS_STRIPE_SECRET_KEY``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kernel.api import plugin_config

PLATFORM = "platform"
SECRET = {"type": "string", "minLength": 1, "maxLength": 500, "writeOnly": True}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "stripe": {
            "type": "object", "additionalProperties": False,
            "required": ["secret_key", "webhook_secret"],
            "properties": {
                "secret_key": {**SECRET, "description": "sk_live_… or sk_test_… (or a restricted rk_…)"},
                "publishable_key": {"type": "string", "maxLength": 500,
                                    "description": "pk_…, handed to the browser with client_secret"},
                "webhook_secret": {**SECRET, "description": "whsec_… of the endpoint registered"},
            },
        },
        "paynow": {
            "type": "object", "additionalProperties": False,
            "required": ["integration_id", "integration_key"],
            "properties": {
                "integration_id": {"type": "string", "minLength": 1, "maxLength": 50},
                "integration_key": {**SECRET, "description": "the integration key Paynow issued"},
                "auth_email": {"type": "string", "maxLength": 254,
                               "description": "merchant e-mail for mobile payments when the payer has none"},
            },
        },
        "default_provider": {"type": "string", "minLength": 1, "maxLength": 40},
        "pending_expiry_minutes": {
            "type": "integer", "minimum": 5, "maximum": 60 * 24 * 30, "default": 60 * 24,
            "description": "A payment still unpaid this long after creation is expired by "
                           "reconciliation (after one last look at the provider).",
        },
    },
}

#: the platform's settings per provider: environment variable suffix -> setting name
PLATFORM_SETTINGS = {
    "stripe": ("secret_key", "publishable_key", "webhook_secret"),
    "paynow": ("integration_id", "integration_key", "auth_email"),
}


def tenant_config() -> dict[str, Any]:
    """The payments config of the tenant in scope (secrets decrypted; never answer it)."""
    return plugin_config("payments")


def provider_settings(provider: str, account: str) -> Mapping[str, Any]:
    """``provider``'s settings for a payment to ``account`` (``tenant`` or ``platform``)."""
    if account == PLATFORM:
        return platform_settings(provider)
    section = tenant_config().get(provider)
    return section if isinstance(section, Mapping) else {}


def platform_settings(provider: str) -> dict[str, str]:
    """``PLUGBOARD_PAYMENTS_<PROVIDER>_<SETTING>`` variables, read when needed (not cached,
    so an operator's rotation takes effect at the next restart of each process at worst)."""
    out = {}
    for name in PLATFORM_SETTINGS.get(provider, ()):
        value = os.environ.get(f"PLUGBOARD_PAYMENTS_{provider.upper()}_{name.upper()}")
        if value:
            out[name] = value
    return out


def pending_expiry_minutes() -> int:
    return int(tenant_config().get("pending_expiry_minutes", 60 * 24))
