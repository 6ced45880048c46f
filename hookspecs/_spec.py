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

PROJECT_NAME = "plugboard"
CONTRACT_VERSION = "1.0"

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
) -> Mapping[str, Any] | None:
    """What is payable ``kind``/``ref``? ``{"amount", "currency", "description"}``. Since 1.0."""


@hookspec(firstresult=True)
def plugboard_component_data(
    tenant_id: uuid.UUID, component_type: str, props: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Data for a page component at fetch time (e.g. an EventList block). Since 1.0."""


@hookspec(firstresult=True)
def plugboard_send_sms(
    tenant_id: uuid.UUID, to: str, body: str, ref: str | None
) -> Mapping[str, Any] | None:
    """Queue a text to ``to``: ``{"message_id", "status"}``, or raise PluginRefusal. Since 1.1."""
