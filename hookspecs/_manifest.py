"""The plugin manifest (:class:`PluginInfo`) and registration records."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
ROLE_NAMES = ("owner", "admin", "manager", "support", "analyst")
# the kernel's own URL segments under /api/v1: a plugin of that name would shadow them
RESERVED_NAMES = frozenset({"admin", "api_keys", "auth", "bundles", "health", "kernel", "plugins",
                            "public", "tenant", "webhooks"})


class ManifestError(ValueError):
    """A :class:`PluginInfo` is invalid; the message names the field and the fix."""


@dataclass(frozen=True)
class PluginInfo:
    """A plugin's identity, declared once as the plugin object's ``plugin_info``.

    .. versionadded:: 1.0
    """

    name: str
    version: str
    title: str = ""
    description: str = ""
    #: other plugins this one needs, as PEP 508 strings: ``("billing>=1.2,<2",)``
    requires: tuple[str, ...] = ()
    #: the kernel contract versions this plugin works with (a PEP 440 specifier)
    kernel: str = ">=1.0,<2"
    #: JSON Schema of the per-tenant config; properties marked ``writeOnly: true`` are
    #: secrets (encrypted at rest, never returned)
    config_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    #: permissions this plugin adds: name (``<plugin>.<action>``) -> lowest role holding it
    permissions: Mapping[str, str] = field(default_factory=dict)
    #: only platform admins may enable it for a tenant
    restricted: bool = False
    #: switched on for tenants created after the plugin is installed
    default_enabled: bool = False
    #: folder of the plugin's alembic branch (branch label = plugin name), if it has tables
    migrations: str | None = None

    def validate(self) -> None:
        """Raise :class:`ManifestError` naming the first bad field."""
        if not NAME_RE.match(self.name):
            raise ManifestError(
                f"PluginInfo.name {self.name!r} must match {NAME_RE.pattern} "
                "(lowercase, digits, underscores; it is also the URL segment)."
            )
        if self.name in RESERVED_NAMES:
            raise ManifestError(
                f"PluginInfo.name {self.name!r} is reserved by the kernel's own routes; pick "
                "another name."
            )
        try:
            Version(self.version)
        except InvalidVersion as exc:
            raise ManifestError(f"PluginInfo.version {self.version!r} is not a version.") from exc
        try:
            SpecifierSet(self.kernel)
        except InvalidSpecifier as exc:
            raise ManifestError(
                f"PluginInfo.kernel {self.kernel!r} is not a version specifier like '>=1.0,<2'."
            ) from exc
        for req in self.requires:
            try:
                parsed = Requirement(req)
            except InvalidRequirement as exc:
                raise ManifestError(
                    f"PluginInfo.requires entry {req!r} is not like 'billing>=1.0'."
                ) from exc
            if parsed.name == self.name:
                raise ManifestError(f"Plugin {self.name!r} cannot require itself.")
        for perm, role in self.permissions.items():
            if not perm.startswith(self.name + "."):
                raise ManifestError(
                    f"Permission {perm!r} of plugin {self.name!r} must start with "
                    f"'{self.name}.'."
                )
            if role not in ROLE_NAMES:
                raise ManifestError(
                    f"Permission {perm!r} names role {role!r}; use one of {', '.join(ROLE_NAMES)}."
                )
        self._check_schema()

    def _check_schema(self) -> None:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(dict(self.config_schema))
        except SchemaError as exc:
            raise ManifestError(
                f"PluginInfo.config_schema of {self.name!r} is not a valid JSON Schema: "
                f"{exc.message}"
            ) from exc
        if self.config_schema.get("type", "object") != "object":
            raise ManifestError(f"PluginInfo.config_schema of {self.name!r} must be an object schema.")

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return tuple(Requirement(r) for r in self.requires)

    def secret_fields(self) -> tuple[str, ...]:
        """Top-level config properties that are secrets (see :meth:`secret_paths`)."""
        return tuple(path[0] for path in self.secret_paths() if len(path) == 1)

    def secret_paths(self) -> tuple[tuple[str, ...], ...]:
        """Every secret in the config schema, at any depth, as a path of property names.

        A property is a secret when its schema says ``writeOnly: true`` (or ``x-secret``);
        nested objects are searched through their ``properties``, so
        ``{"stripe": {"properties": {"secret_key": {"writeOnly": true}}}}`` gives
        ``("stripe", "secret_key")``. Secrets inside arrays are not supported.

        .. versionadded:: 1.1
        """
        return tuple(sorted(_secret_paths(self.config_schema, ())))


def _secret_paths(schema: Mapping[str, Any], prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    props = schema.get("properties", {})
    for key, sub in props.items() if isinstance(props, Mapping) else ():
        if not isinstance(sub, Mapping):
            continue
        if sub.get("writeOnly") or sub.get("x-secret"):
            found.append((*prefix, key))
        else:
            found.extend(_secret_paths(sub, (*prefix, key)))
    return found


@dataclass(frozen=True)
class JobSpec:
    """A background job a plugin offers (``plugboard_jobs``).

    ``name`` is ``<plugin>.<job>``; ``cron`` (five fields, UTC) fans out one run per
    tenant that has the plugin enabled. ``retry`` is the number of retries, spaced by
    ``retry_intervals`` seconds.

    .. versionadded:: 1.0
    """

    name: str
    func: Callable[..., Any]
    queue: str = "default"
    timeout: int = 300
    retry: int = 0
    retry_intervals: tuple[int, ...] = (10, 60, 300)
    cron: str | None = None


@dataclass(frozen=True)
class EventHandler:
    """A handler of a domain event (``plugboard_event_handlers``).

    ``name`` identifies the handler for idempotency; it defaults to the function's
    qualified name.

    .. versionadded:: 1.0
    """

    event: str
    func: Callable[..., Any]
    name: str = ""


class PluginRefusal(Exception):
    """Raised by a lifecycle or guard hook to refuse, with a reason shown to the caller.

    .. versionadded:: 1.0
    """

    def __init__(self, reason: str, status: int = 409, type_: str = "plugin-refused") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.type_ = type_


class JobFailed(Exception):
    """Raised by a job for an expected, reported failure (the job ends ``failed``).

    Any other exception is a bug: the job ends ``errored`` and is retried per its
    :class:`JobSpec`. With ``retry=True`` an expected failure is retried too.

    .. versionadded:: 1.0
    """

    def __init__(self, reason: str, retry: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
