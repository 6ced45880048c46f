"""``/api/v1/plugins`` (the tenant's view) and ``/api/v1/admin/…/plugins`` (platform admins)."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from kernel.data.session import db
from kernel.identity.auth import auth_required, current_principal, platform_admin_required
from kernel.problems import problem
from kernel.registry.activation import Activations, PluginActivation, masked
from kernel.registry.manager import PluginRecord
from kernel.runtime import audit
from kernel.services import kernel_services
from kernel.tenancy.scope import current_tenant_id, tenant_scope
from kernel.web.routes.admin import tenant_or_404
from kernel.web.schemas import Strict

blp = Blueprint("plugins", __name__, url_prefix="/api/v1/plugins", description="Plugins (tenant)")
admin_blp = Blueprint("admin_plugins", __name__, url_prefix="/api/v1/admin",
                      description="Plugins (platform admin)")


class PluginSchema(ma.Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    requires = fields.List(fields.String())
    restricted = fields.Boolean()
    default_enabled = fields.Boolean()
    enabled = fields.Boolean()
    permissions = fields.Dict(keys=fields.String(), values=fields.String())


class PluginDetailSchema(PluginSchema):
    config_schema = fields.Dict()
    config = fields.Dict(metadata={"description": "secret fields are masked"})
    installed_version = fields.String(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)


class StrictBoolean(fields.Boolean):
    """Only JSON true and false; marshmallow's default also takes "yes", 1, "on"…"""

    truthy = {True}
    falsy = {False}


class ActivationSchema(Strict):
    enabled = StrictBoolean(required=True)
    with_dependencies = StrictBoolean(load_default=False,
                                       metadata={"description": "enable missing requirements too"})


class ActivationResultSchema(ma.Schema):
    plugin = fields.String()
    enabled = fields.Boolean()
    changed = fields.List(fields.String(), metadata={"description": "plugins switched by this call"})


class ConfigSchema(ma.Schema):
    """A plugin config object: the plugin's JSON Schema, not this one, decides its shape."""

    class Meta:
        unknown = ma.INCLUDE

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        return dict(obj)


class AdminPluginStateSchema(Strict):
    enabled = StrictBoolean()
    config = fields.Dict()
    with_dependencies = StrictBoolean(load_default=True)


class InstalledPluginSchema(ma.Schema):
    name = fields.String()
    version = fields.String(allow_none=True)
    source = fields.String(metadata={"description": "builtin, entry_point or app"})
    status = fields.String(metadata={"description": "loaded, failed or denied"})
    error = fields.String(allow_none=True)
    hooks = fields.List(fields.String())
    tenants_enabled = fields.Integer()


def _activations() -> Activations:
    return kernel_services().activations


def _describe(record: PluginRecord, row: PluginActivation | None, detail: bool) -> dict[str, Any]:
    info = record.info
    assert info is not None
    out: dict[str, Any] = {
        "name": info.name, "version": info.version, "title": info.title,
        "description": info.description, "requires": list(info.requires),
        "restricted": info.restricted, "default_enabled": info.default_enabled,
        "enabled": bool(row and row.enabled), "permissions": dict(info.permissions),
    }
    if detail:
        out.update(config_schema=dict(info.config_schema),
                   config=masked(info, row.config if row else {}),
                   installed_version=row.installed_version if row else None,
                   updated_at=row.updated_at if row else None)
    return out


def _record(name: str) -> PluginRecord:
    record = _activations().registry.get(name)
    if record is None:
        problem(404, "plugin-not-found", title="Plugin not found",
                detail=f"No plugin named {name!r} is installed.")
    assert record is not None
    return record


def _actor() -> str:
    principal = current_principal()
    return principal.actor_id if principal else "system"


@blp.route("")
class Catalogue(MethodView):
    @auth_required("plugins.read")
    @blp.response(200, PluginSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every plugin offered to this tenant, and whether it is on."""
        rows = _activations().rows()
        return [_describe(r, rows.get(r.name), False)
                for r in sorted(_activations().registry.loaded(), key=lambda r: r.name)]


@blp.route("/<string:name>")
class PluginItem(MethodView):
    @auth_required("plugins.read")
    @blp.response(200, PluginDetailSchema)
    def get(self, name: str) -> dict[str, Any]:
        """One plugin with its config schema and (masked) config."""
        return _describe(_record(name), _activations().row(name), True)


@blp.route("/<string:name>/activation")
class Activation(MethodView):
    @auth_required("plugins.write")
    @blp.arguments(ActivationSchema)
    @blp.response(200, ActivationResultSchema)
    @blp.alt_response(409, description="a requirement is off, or a dependent is on")
    def put(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Switch the plugin on or off for this tenant."""
        _record(name)
        changed = _activations().set_enabled(
            current_tenant_id(), name, data["enabled"], _actor(),
            with_dependencies=data["with_dependencies"])
        audit.describe("plugins.enable" if data["enabled"] else "plugins.disable", "plugin", name,
                       changed=changed)
        return {"plugin": name, "enabled": data["enabled"], "changed": changed}


@blp.route("/<string:name>/config")
class Config(MethodView):
    @auth_required("plugins.read")
    @blp.response(200, ConfigSchema)
    def get(self, name: str) -> dict[str, Any]:
        """The tenant's config of the plugin; secret fields masked."""
        record = _record(name)
        row = _activations().row(name)
        assert record.info is not None
        return masked(record.info, row.config if row else {})

    @auth_required("plugins.write")
    @blp.arguments(ConfigSchema)
    @blp.response(200, ConfigSchema)
    def put(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Replace the config; validated against the plugin's JSON Schema (422 with pointers).

        Send a secret field as ``********`` to keep its stored value.
        """
        record = _record(name)
        assert record.info is not None
        row = _activations().set_config(current_tenant_id(), name, data, _actor())
        audit.describe("plugins.config", "plugin", name, fields=sorted(data))
        return masked(record.info, row.config)


# -- platform admin -----------------------------------------------------------------


@admin_blp.route("/plugins")
class InstalledPlugins(MethodView):
    @platform_admin_required
    @admin_blp.response(200, InstalledPluginSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Installed plugins: version, source, load status and error, tenants using it."""
        counts = dict(db.session.execute(
            sa.select(PluginActivation.plugin, sa.func.count())
            .where(PluginActivation.enabled.is_(True)).group_by(PluginActivation.plugin)
        ).all())
        records = _activations().registry.records.values()
        return [{"name": r.name, "version": r.version, "source": r.source, "status": r.status,
                 "error": r.error, "hooks": r.hooks, "tenants_enabled": counts.get(r.name, 0)}
                for r in sorted(records, key=lambda r: r.name)]


@admin_blp.route("/tenants/<uuid:tenant_id>/plugins")
class TenantPlugins(MethodView):
    @platform_admin_required
    @admin_blp.response(200, PluginDetailSchema(many=True))
    def get(self, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
        """That tenant's plugin states (secrets masked)."""
        tenant_or_404(tenant_id)
        with tenant_scope(tenant_id):
            rows = _activations().rows()
        return [_describe(r, rows.get(r.name), True)
                for r in sorted(_activations().registry.loaded(), key=lambda r: r.name)]


@admin_blp.route("/tenants/<uuid:tenant_id>/plugins/<string:name>")
class TenantPlugin(MethodView):
    @platform_admin_required
    @admin_blp.arguments(AdminPluginStateSchema)
    @admin_blp.response(200, PluginDetailSchema)
    @admin_blp.alt_response(409, description="a requirement is off, a dependent is on, or the plugin refused")
    def put(self, data: dict[str, Any], tenant_id: uuid.UUID, name: str) -> dict[str, Any]:
        """Enable (restricted ones too), disable or configure a plugin for a tenant."""
        tenant_or_404(tenant_id)
        record = _record(name)
        activations = _activations()
        with tenant_scope(tenant_id):
            if "config" in data:
                activations.set_config(tenant_id, name, data["config"], _actor())
            if "enabled" in data:
                activations.set_enabled(tenant_id, name, data["enabled"], _actor(), as_admin=True,
                                        with_dependencies=data["with_dependencies"])
            row = activations.row(name)
        audit.describe("admin.plugins.set", "plugin", name, tenant_id=tenant_id,
                       fields=sorted(k for k in data if k != "with_dependencies"))
        return _describe(record, row, True)

