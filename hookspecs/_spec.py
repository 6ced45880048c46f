"""Plugboard's hook specifications: one short stub per hook.

The long form of each (arguments, example, deprecation status) is in
``docs/plugin-hooks.md``. Hooks are called with keyword arguments only; an
implementation may accept any subset of a spec's arguments.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

from hookspecs._manifest import EventHandler, JobSpec
from hookspecs._payments import Payable, PayableRefusal, PaymentProvider

PROJECT_NAME = "plugboard"
CONTRACT_VERSION = "1.1"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -- registration: called once per plugin inside create_app ------------------------


@hookspec
def plugboard_blueprints(app: Any) -> Sequence[Any]:  # type: ignore[empty-body]
    """Tenant routes: flask-smorest Blueprints under ``/api/v1/<plugin>``. Since 1.0."""


@hookspec
def plugboard_public_blueprints(app: Any) -> Sequence[Any]:  # type: ignore[empty-body]
    """Storefront routes under ``/api/v1/public/<plugin>`` (tenant from Host). Since 1.0."""


@hookspec
def plugboard_webhook_blueprints(app: Any) -> Sequence[Any]:  # type: ignore[empty-body]
    """Provider webhooks under ``/api/v1/webhooks/<plugin>``. Since 1.0."""


@hookspec
def plugboard_app_ready(app: Any) -> None:
    """One-time set-up once every plugin's registrations are installed. Since 1.1.

    Blueprint hooks only return blueprints; subscribe caches, add demo seeders and public
    responders here. Raising leaves the plugin out.
    """


@hookspec
def plugboard_admin_blueprints(app: Any) -> Sequence[Any]:  # type: ignore[empty-body]
    """Platform admin routes under ``/api/v1/admin/<plugin>`` (platform admins only). Since 1.1."""


@hookspec
def plugboard_jobs() -> Sequence[JobSpec]:  # type: ignore[empty-body]
    """Background jobs this plugin offers, optionally on a cron schedule. Since 1.0."""


@hookspec
def plugboard_event_handlers() -> Sequence[EventHandler]:  # type: ignore[empty-body]
    """Domain events this plugin handles (delivered only for tenants that enabled it). Since 1.0."""


@hookspec
def plugboard_permissions() -> Mapping[str, str]:  # type: ignore[empty-body]
    """Extra permissions (``<plugin>.<action>`` -> lowest role) beyond PluginInfo. Since 1.0."""


@hookspec
def plugboard_page_components() -> Sequence[Mapping[str, Any]]:  # type: ignore[empty-body]
    """Page-editor components this plugin contributes (``{"type", "title", ...}``). Since 1.0."""


# -- lifecycle: per tenant, only the plugin concerned is called ----------------------


@hookspec
def plugboard_tenant_enabled(tenant_id: uuid.UUID, config: Mapping[str, Any]) -> None:
    """The plugin is being enabled for a tenant; raise PluginRefusal to refuse. Since 1.0."""


@hookspec
def plugboard_tenant_disabled(tenant_id: uuid.UUID) -> None:
    """The plugin is being disabled for a tenant; raise PluginRefusal to refuse. Since 1.0."""


@hookspec
def plugboard_config_validate(
    tenant_id: uuid.UUID, config: Mapping[str, Any]
) -> Sequence[Mapping[str, str]] | None:
    """Checks beyond JSON Schema; return ``[{"pointer", "message"}]`` errors. Since 1.0."""


@hookspec
def plugboard_config_changed(
    tenant_id: uuid.UUID, old: Mapping[str, Any], new: Mapping[str, Any]
) -> None:
    """A tenant's config is being replaced; raise PluginRefusal to refuse. Since 1.0."""


# -- notifications: every enabled plugin, failures isolated and logged --------------


@hookspec
def plugboard_activation_changed(tenant_id: uuid.UUID, plugin: str, enabled: bool) -> None:
    """A plugin (this one included) was switched on or off for a tenant (after commit). Since 1.0."""


# -- request: guards of the tenant's enabled plugins --------------------------------


@hookspec
def plugboard_request_guard(tenant_id: uuid.UUID, endpoint: str, method: str) -> None:
    """Before a tenant's authenticated request; raise PluginRefusal to refuse it. Since 1.0."""


# -- cooperation: firstresult resolvers, among the tenant's enabled plugins ---------


@hookspec(firstresult=True)
def plugboard_resolve_payable(
    tenant_id: uuid.UUID, kind: str, ref: str
) -> Payable | PayableRefusal | Mapping[str, Any] | None:
    """What is payable ``kind``/``ref``: a Payable, a PayableRefusal, or None. Since 1.0;
    Payable and PayableRefusal since 1.1."""


@hookspec
def plugboard_payment_providers() -> Sequence[PaymentProvider]:  # type: ignore[empty-body]
    """Payment providers (objects implementing PaymentProvider) this plugin offers. Since 1.1."""


@hookspec(firstresult=True)
def plugboard_component_data(
    tenant_id: uuid.UUID, component_type: str, props: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Data for a page component at fetch time (e.g. an EventList block). Since 1.0."""


# -- data-subject hooks: every enabled plugin that stores personal data ----------------


@hookspec
def plugboard_customer_timeline(
    tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> Sequence[Mapping[str, Any]] | None:
    """Dated entries of a customer (``{"at", "type", "title", "ref", "data"}``). Since 1.1."""


@hookspec
def plugboard_customer_export(
    tenant_id: uuid.UUID, customer_id: uuid.UUID
) -> Mapping[str, Any] | None:
    """This plugin's data of a customer, JSON-ready, for a data-subject request. Since 1.1."""


@hookspec
def plugboard_customer_erase(tenant_id: uuid.UUID, customer_id: uuid.UUID) -> None:
    """Anonymise this plugin's data of a customer; keep money records. Since 1.1."""


# -- money: asked by the plugins that get paid, answered by payments -------------------


@hookspec(firstresult=True)
def plugboard_start_payment(
    tenant_id: uuid.UUID,
    kind: str,
    ref: str,
    provider: str | None,
    return_url: str | None,
) -> Mapping[str, Any] | None:
    """Start paying payable ``kind``/``ref``: ``{"payment_id", "status", ...}``. Since 1.1."""


@hookspec(firstresult=True)
def plugboard_payment_link(
    tenant_id: uuid.UUID, kind: str, ref: str, expires_at: Any | None
) -> Mapping[str, Any] | None:
    """A link anyone can pay payable ``kind``/``ref`` at: ``{"token", "url", ...}``. Since 1.1."""


@hookspec(firstresult=True)
def plugboard_refund_payment(
    tenant_id: uuid.UUID, payment_id: str, amount: int | None, reason: str | None
) -> Mapping[str, Any] | None:
    """Refund a succeeded payment (all, or ``amount`` minor units): ``{"refund_id", ...}``. Since 1.1."""


@hookspec(firstresult=True)
def plugboard_send_sms(
    tenant_id: uuid.UUID, to: str, body: str, ref: str | None
) -> Mapping[str, Any] | None:
    """Queue a text to ``to``: ``{"message_id", "status"}``, or raise PluginRefusal. Since 1.1."""
