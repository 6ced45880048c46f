"""Per-tenant plugin activation and configuration.

The hot path (:meth:`Activations.is_enabled`) reads an in-process snapshot: one
``frozenset`` of enabled plugin names per tenant, loaded on first use and dropped when
:mod:`kernel.runtime.broadcast` says the tenant changed, in every process.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Mapped, mapped_column

from hookspecs import PluginInfo, PluginRefusal
from kernel.data.base import Base, TenantOwned, utcnow
from kernel.data.session import db
from kernel.identity.credentials import SecretBox
from kernel.problems import Problem, problem
from kernel.registry.manager import PluginRegistry
from kernel.runtime.broadcast import Broadcast
from kernel.tenancy.scope import tenant_scope

TOPIC = "activation"
MASK = "********"
SEALED = "$sealed"


class PluginActivation(TenantOwned, Base):
    """A plugin's state for one tenant: on or off, and its config."""

    __tablename__ = "plugin_activations"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "plugin"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    plugin: Mapped[str] = mapped_column(sa.String(40))
    enabled: Mapped[bool] = mapped_column(default=False)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    installed_version: Mapped[str | None] = mapped_column(sa.String(40))
    updated_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Snapshot:
    """tenant id -> enabled plugin names; the only thing the request path reads."""

    def __init__(self, registry: PluginRegistry, broadcast: Broadcast) -> None:
        self._registry = registry
        self._broadcast = broadcast
        self._by_tenant: dict[uuid.UUID, frozenset[str]] = {}
        self._shared: dict[frozenset[str], frozenset[str]] = {}
        self._lock = threading.Lock()
        broadcast.subscribe(TOPIC, self._drop)

    def enabled(self, tenant_id: uuid.UUID) -> frozenset[str]:
        names = self._by_tenant.get(tenant_id)
        if names is None:
            self._broadcast.ensure_listening()
            names = self._load(tenant_id)
        return names

    def is_enabled(self, tenant_id: uuid.UUID, plugin: str) -> bool:
        return plugin in self.enabled(tenant_id)

    def cached(self, tenant_id: uuid.UUID) -> frozenset[str] | None:
        """The tenant's enabled plugins if in memory; None when only the database knows."""
        return self._by_tenant.get(tenant_id)

    def _load(self, tenant_id: uuid.UUID) -> frozenset[str]:
        loaded = self._registry.names()
        with tenant_scope(tenant_id):
            rows = db.session.scalars(
                sa.select(PluginActivation.plugin).where(PluginActivation.enabled.is_(True))
            ).all()
        names = self._intern(frozenset(r for r in rows if r in loaded))
        with self._lock:
            self._by_tenant[tenant_id] = names
        return names

    def _intern(self, names: frozenset[str]) -> frozenset[str]:
        """One shared set per distinct combination: tenants mostly share a few."""
        return self._shared.setdefault(names, names)

    def prime(self, tenant_id: uuid.UUID, names: frozenset[str]) -> None:
        """Set a tenant's entry directly (benchmarks, warm-up)."""
        self._by_tenant[tenant_id] = self._intern(names)

    def _drop(self, key: str | None) -> None:
        with self._lock:
            if key is None:
                self._by_tenant.clear()
            else:
                self._by_tenant.pop(uuid.UUID(key), None)


def _at(config: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in nested mappings, or None when any step is missing."""
    value: Any = config
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _with(config: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``config`` with ``path`` set to ``value`` (only the path's dicts are copied)."""
    out = dict(config)
    inner = out.get(path[0])
    out[path[0]] = _with(inner, path[1:], value) if len(path) > 1 and isinstance(inner, Mapping) else value
    return out


def _each_secret(info: PluginInfo, config: Mapping[str, Any],
                 change: Callable[[Any], Any]) -> dict[str, Any]:
    """``config`` with ``change(value)`` applied to every secret present, at any depth."""
    out = dict(config)
    for path in info.secret_paths():
        value = _at(out, path)
        if value is not None:
            out = _with(out, path, change(value))
    return out


def seal_secrets(info: PluginInfo, config: Mapping[str, Any], box: SecretBox) -> dict[str, Any]:
    """The config as stored: secret fields (at any depth) encrypted."""
    return _each_secret(info, config, lambda v: {SEALED: box.seal(str(v))})


def open_secrets(info: PluginInfo, stored: Mapping[str, Any], box: SecretBox) -> dict[str, Any]:
    """The plaintext config, for the plugin's own use (never for a response)."""
    return _each_secret(info, stored, lambda v: box.open(v[SEALED])
                        if isinstance(v, Mapping) and SEALED in v else v)


def masked(info: PluginInfo, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The config as answered: every secret present replaced by :data:`MASK`."""
    return _each_secret(info, copy.deepcopy(dict(stored)), lambda v: MASK)


def keep_masked(info: PluginInfo, new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` with each secret sent back as :data:`MASK` replaced by the stored one.

    A client that reads the config (secrets masked) and PUTs it back unchanged keeps its
    secrets; a secret the tenant never set stays ``MASK`` and fails validation as usual.
    """
    out = dict(new)
    for path in info.secret_paths():
        if _at(out, path) == MASK and _at(old, path) is not None:
            out = _with(out, path, _at(old, path))
    return out


def schema_errors(info: PluginInfo, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    validator = Draft202012Validator(dict(info.config_schema))
    errors = []
    for error in sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path)):
        path = [str(p) for p in error.absolute_path]
        pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
        errors.append({"field": ".".join(path), "pointer": pointer if path else "",
                       "location": "json", "message": error.message})
    return errors


def _plugin_error(error: Mapping[str, str]) -> dict[str, Any]:
    pointer = error.get("pointer", "")
    return {"field": pointer.strip("/").replace("/", "."), "pointer": pointer,
            "location": "json", "message": error.get("message", "")}


class Activations:
    """Changes to activation and config, with every rule of the contract enforced."""

    def __init__(self, registry: PluginRegistry, broadcast: Broadcast, box: SecretBox) -> None:
        self.registry = registry
        self.snapshot = Snapshot(registry, broadcast)
        self._broadcast = broadcast
        self._box = box
        self._configs: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
        broadcast.subscribe(TOPIC, self._drop_configs)

    def is_enabled(self, tenant_id: uuid.UUID, plugin: str) -> bool:
        return self.snapshot.is_enabled(tenant_id, plugin)

    def row(self, plugin: str) -> PluginActivation | None:
        """The current tenant's row for ``plugin`` (inside its tenant scope)."""
        return db.session.scalars(
            sa.select(PluginActivation).where(PluginActivation.plugin == plugin)
        ).one_or_none()

    def rows(self) -> dict[str, PluginActivation]:
        return {r.plugin: r for r in db.session.scalars(sa.select(PluginActivation))}

    def set_enabled(self, tenant_id: uuid.UUID, plugin: str, enabled: bool, actor: str, *,
                    as_admin: bool = False, with_dependencies: bool = False) -> list[str]:
        """Switch ``plugin`` on or off for the tenant in scope; the plugins changed."""
        info = self._info(plugin)
        if info.restricted and not as_admin:
            # both ways: billing must not be switched off by the tenant it bills
            problem(403, "plugin-restricted", title="Plugin restricted",
                    detail=f"Only a platform admin can {'enable' if enabled else 'disable'} "
                    f"{plugin!r} for a tenant; ask the platform's support.")
        rows = self.rows()
        on = {name for name, r in rows.items() if r.enabled and self.registry.get(name)}
        changed = self._enable_plan(plugin, on, with_dependencies, as_admin) if enabled else (
            self._disable_plan(plugin, on))
        for name in changed:
            self._apply(tenant_id, name, enabled, rows.get(name), actor)
        db.session.commit()
        self._after_change(tenant_id, changed, enabled)
        return changed

    def _enable_plan(self, plugin: str, on: set[str], with_deps: bool, as_admin: bool) -> list[str]:
        plan: list[str] = []

        def need(name: str, chain: tuple[str, ...]) -> None:
            if name in on or name in plan:
                return
            for req in self._info(name).requirements:
                if req.name in on or req.name in plan:
                    continue
                if not with_deps:
                    problem(409, "plugin-dependency-missing", title="Dependency not enabled",
                            detail=f"{plugin!r} requires {req.name!r}, which is not enabled; enable "
                            f"it first or pass with_dependencies=true.", missing=[req.name])
                dep = self._info(req.name)
                if dep.restricted and not as_admin:
                    problem(409, "plugin-dependency-missing", title="Dependency not enabled",
                            detail=f"{plugin!r} requires {req.name!r}, which only a platform "
                            "admin can enable.", missing=[req.name])
                need(req.name, (*chain, name))
            plan.append(name)

        need(plugin, ())
        return plan

    def _disable_plan(self, plugin: str, on: set[str]) -> list[str]:
        if plugin not in on:
            return []
        dependents = [d for d in self.registry.dependents_of(plugin) if d in on]
        if dependents:
            problem(409, "plugin-required", title="Plugin still required",
                    detail=f"{', '.join(dependents)} require(s) {plugin!r}; disable "
                    f"{'them' if len(dependents) > 1 else 'it'} first.", dependents=dependents)
        return [plugin]

    def _apply(self, tenant_id: uuid.UUID, name: str, enabled: bool,
               row: PluginActivation | None, actor: str) -> None:
        if row is None:
            row = PluginActivation(plugin=name, config={})
            db.session.add(row)
        hook = "plugboard_tenant_enabled" if enabled else "plugboard_tenant_disabled"
        kwargs: dict[str, Any] = {"tenant_id": tenant_id}
        if enabled:
            kwargs["config"] = open_secrets(self._info(name), row.config or {}, self._box)
        self._lifecycle(name, hook, **kwargs)
        row.enabled = enabled
        row.installed_version = self._info(name).version
        row.updated_by = actor

    def _lifecycle(self, name: str, hook: str, **kwargs: Any) -> list[Any]:
        try:
            return self.registry.call_plugin(name, hook, **kwargs)
        except PluginRefusal as refusal:
            db.session.rollback()
            raise Problem(refusal.status, refusal.type_, title="Refused by plugin",
                          detail=f"{name}: {refusal.reason}", plugin=name) from refusal

    def _after_change(self, tenant_id: uuid.UUID, changed: list[str], enabled: bool) -> None:
        if not changed:
            return
        self._broadcast.publish(TOPIC, str(tenant_id))
        on = self.snapshot.enabled(tenant_id)
        for name in changed:
            self.registry.notify(on, "plugboard_activation_changed",
                                 tenant_id=tenant_id, plugin=name, enabled=enabled)

    def set_config(self, tenant_id: uuid.UUID, plugin: str, config: Mapping[str, Any],
                   actor: str) -> PluginActivation:
        """Validate (JSON Schema, then the plugin's own checks) and store ``config``."""
        info = self._info(plugin)
        row = self.row(plugin)
        old_stored = dict(row.config) if row else {}
        old_plain = open_secrets(info, old_stored, self._box)
        merged = keep_masked(info, config, old_plain)  # a masked secret: keep the stored one
        errors = schema_errors(info, merged)
        if not errors:
            extra = self._lifecycle(plugin, "plugboard_config_validate", tenant_id=tenant_id, config=merged)
            errors = [_plugin_error(e) for group in extra if group for e in group]
        if errors:
            problem(422, "plugin-config-invalid", title="Invalid plugin config",
                    detail=f"The config does not satisfy {plugin!r}'s schema; see errors.",
                    errors=errors)
        self._lifecycle(plugin, "plugboard_config_changed", tenant_id=tenant_id,
                        old=open_secrets(info, old_stored, self._box), new=merged)
        if row is None:
            row = PluginActivation(plugin=plugin, enabled=False, installed_version=info.version)
            db.session.add(row)
        row.config = seal_secrets(info, merged, self._box)
        row.updated_by = actor
        db.session.commit()
        self._broadcast.publish(TOPIC, str(tenant_id))
        return row

    def config_of(self, tenant_id: uuid.UUID, plugin: str) -> dict[str, Any]:
        """A plugin's plaintext config for ``tenant_id`` (for the plugin's own code).

        Cached per process like the activation snapshot (guards read it on every request)
        and dropped in every process when the tenant's config or activation changes.
        """
        key = (tenant_id, plugin)
        cached = self._configs.get(key)
        if cached is None:
            with tenant_scope(tenant_id):
                row = self.row(plugin)
            cached = open_secrets(self._info(plugin), row.config if row else {}, self._box)
            self._configs[key] = cached
        return dict(cached)

    def _drop_configs(self, key: str | None) -> None:
        if key is None:
            self._configs.clear()
            return
        tenant_id = uuid.UUID(key)
        for cached in [k for k in self._configs if k[0] == tenant_id]:
            self._configs.pop(cached, None)

    def seed_new_tenant(self, tenant_id: uuid.UUID, actor: str) -> list[str]:
        """Enable every ``default_enabled`` plugin (with its requirements) for a new tenant."""
        enabled: list[str] = []
        with tenant_scope(tenant_id):
            for record in self.registry.loaded():
                info = record.info
                if info is None or not info.default_enabled or info.name in enabled:
                    continue
                try:
                    enabled += self.set_enabled(tenant_id, info.name, True, actor,
                                                as_admin=True, with_dependencies=True)
                except Exception:  # a refusing plugin must not stop the tenant's creation
                    db.session.rollback()
        return enabled

    def _info(self, plugin: str) -> PluginInfo:
        try:
            return self.registry.info(plugin)
        except KeyError:
            problem(404, "plugin-not-found", title="Plugin not found",
                    detail=f"No plugin named {plugin!r} is installed.")
        raise AssertionError  # unreachable
