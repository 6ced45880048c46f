"""Plugboard's public plugin contract: hook specs, the ``hookimpl`` marker, the manifest.

A plugin is any object (usually a module) with a ``plugin_info`` attribute holding a
:class:`PluginInfo` and ``@hookimpl`` functions named after the specs in
:mod:`hookspecs._spec`. See ``docs/writing-plugins.md``.
"""

from hookspecs._manifest import (
    EventHandler,
    JobFailed,
    JobSpec,
    ManifestError,
    PluginInfo,
    PluginRefusal,
)
from hookspecs._payments import (
    Payable,
    PayableRefusal,
    PaymentProvider,
    PaymentRequest,
    ProviderError,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    WebhookEvent,
    WebhookRejected,
)
from hookspecs._spec import CONTRACT_VERSION, PROJECT_NAME, hookimpl, hookspec

__all__ = [
    "CONTRACT_VERSION",
    "PROJECT_NAME",
    "EventHandler",
    "JobFailed",
    "JobSpec",
    "ManifestError",
    "Payable",
    "PayableRefusal",
    "PaymentProvider",
    "PaymentRequest",
    "PluginInfo",
    "PluginRefusal",
    "ProviderError",
    "ProviderPayment",
    "ProviderRefund",
    "ProviderStatus",
    "WebhookEvent",
    "WebhookRejected",
    "hookimpl",
    "hookspec",
]
