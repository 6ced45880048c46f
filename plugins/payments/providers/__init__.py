"""The providers a tenant can pay through: the built-in ones and any plugin's.

Providers come from ``plugboard_payment_providers`` among the plugins the tenant has
enabled (so a third-party provider plugin is offered only to tenants that enabled it).
Payments to the platform's own account use the built-in providers only: their settings
come from the platform's environment, not from a tenant's plugin.
"""

from __future__ import annotations

from hookspecs import PaymentProvider
from kernel.api import tenant_hook
from plugins.payments.providers.manual import ManualProvider
from plugins.payments.providers.paynow import PaynowProvider
from plugins.payments.providers.stripe import StripeProvider

_BUILTIN: dict[str, PaymentProvider] = {
    p.name: p for p in (StripeProvider(), PaynowProvider(), ManualProvider())
}


def builtin_providers() -> list[PaymentProvider]:
    return list(_BUILTIN.values())


def available() -> dict[str, PaymentProvider]:
    """name -> provider, for the tenant in scope (first registration of a name wins)."""
    found: dict[str, PaymentProvider] = {}
    for group in tenant_hook("plugboard_payment_providers")():
        for provider in group or ():
            if isinstance(provider, PaymentProvider):
                found.setdefault(provider.name, provider)
    return found


def for_account(account: str) -> dict[str, PaymentProvider]:
    """The providers usable for a payment to ``account`` (``tenant`` or ``platform``)."""
    return dict(_BUILTIN) if account == "platform" else available()


def builtin(name: str) -> PaymentProvider | None:
    return _BUILTIN.get(name)
