"""The plugin registry: discovery, validation, dependency order, per-tenant dispatch.

Plugins come from the built-in ``plugins`` package, the ``plugboard.plugins`` entry
point group, and (for tests and embedding) objects passed to ``create_app``. A plugin
that fails to import, to validate, or to fit the kernel contract is left out and
reported; the rest load. Registration ends inside ``create_app`` with :meth:`freeze`.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import hookspecs._spec as spec_module
from hookspecs import CONTRACT_VERSION, PROJECT_NAME, ManifestError, PluginInfo

log = logging.getLogger("plugboard.plugins")

ENTRY_POINT_GROUP = "plugboard.plugins"
REGISTRATION_HOOKS = frozenset(
    {"plugboard_blueprints", "plugboard_public_blueprints", "plugboard_webhook_blueprints",
     "plugboard_admin_blueprints",
     "plugboard_jobs", "plugboard_event_handlers", "plugboard_permissions",
     "plugboard_page_components"}
)


class RegistryFrozenError(RuntimeError):
    """Plugins can only be registered while ``create_app`` builds the app."""


@dataclass
class PluginRecord:
    """One discovered plugin and how loading it went."""

    name: str
    source: str  # builtin, entry_point, app
    obj: Any = None
    info: PluginInfo | None = None
    status: str = "loaded"  # loaded, failed, denied
    error: str | None = None
    package: str = ""
    hooks: list[str] = field(default_factory=list)

    @property
    def version(self) -> str | None:
        return self.info.version if self.info else None


@dataclass(frozen=True)
class Candidate:
    name: str
    source: str
    load: Callable[[], Any]


def builtin_candidates() -> Iterator[Candidate]:
    import plugins

    for module in pkgutil.iter_modules(plugins.__path__):
        if module.ispkg and not module.name.startswith("_"):
            yield Candidate(module.name, "builtin", _builtin_loader(module.name))


def _builtin_loader(name: str) -> Callable[[], Any]:
    def load() -> Any:
        return importlib.import_module(f"plugins.{name}").plugin

    return load


def entry_point_candidates() -> Iterator[Candidate]:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        yield Candidate(ep.name, "entry_point", ep.load)


def _package_of(obj: Any) -> str:
    module = obj.__name__ if inspect.ismodule(obj) else type(obj).__module__
    return module.rsplit(".", 1)[0] if module.endswith(".plugin") else module


class PluginRegistry:
    """The app's plugin manager and what each plugin registered."""

    def __init__(self, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(spec_module)
        self.records: dict[str, PluginRecord] = {}
        self._allow = frozenset(allow)
        self._deny = frozenset(deny)
        self._frozen = False
        self._subset_cache: dict[tuple[str, frozenset[str]], Any] = {}
        # called with (plugin, hook) when a notified hook raises (the app counts them)
        self.hook_error_listeners: list[Callable[[str, str], None]] = []

    # -- loading -------------------------------------------------------------------

    def load(self, candidates: Iterable[Candidate]) -> None:
        self._check_open()
        for candidate in candidates:
            self._load_one(candidate)
        self._resolve_dependencies()

    def _load_one(self, candidate: Candidate) -> None:
        if candidate.name in self.records and self.records[candidate.name].status == "loaded":
            self._fail(PluginRecord(candidate.name, candidate.source),
                       f"another plugin named {candidate.name!r} is already loaded "
                       f"(from {self.records[candidate.name].source}); this one is ignored")
            return
        record = PluginRecord(candidate.name, candidate.source)
        if (self._allow and candidate.name not in self._allow) or candidate.name in self._deny:
            record.status, record.error = "denied", "excluded by PLUGBOARD_PLUGINS_ALLOW/DENY"
            self.records[candidate.name] = record
            return
        try:
            record.obj = candidate.load()
            record.info = self._manifest(candidate.name, record.obj)
            record.package = _package_of(record.obj)
            self.pm.register(record.obj, name=record.info.name)
            self._check_hook_names(record.info.name, record.obj)
        except Exception as exc:  # any failure leaves the plugin out, never the kernel
            if record.obj is not None and self.pm.is_registered(record.obj):
                self.pm.unregister(record.obj)
            self._fail(record, f"{type(exc).__name__}: {exc}")
            return
        record.name = record.info.name
        record.hooks = sorted(
            impl.name for impl in self.pm.get_hookcallers(record.obj) or ()
        )
        self.records[record.name] = record

    @staticmethod
    def _manifest(name: str, obj: Any) -> PluginInfo:
        info = getattr(obj, "plugin_info", None)
        if not isinstance(info, PluginInfo):
            raise ManifestError(
                f"plugin {name!r} has no `plugin_info = PluginInfo(...)` attribute"
            )
        info.validate()
        if Version(CONTRACT_VERSION) not in SpecifierSet(info.kernel):
            raise ManifestError(
                f"plugin {info.name!r} needs kernel contract {info.kernel}, this kernel "
                f"offers {CONTRACT_VERSION}; upgrade the plugin or the kernel"
            )
        return info

    def _check_hook_names(self, name: str, obj: Any) -> None:
        """pluggy's own error names the plugin by its repr and suggests nothing."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            known = sorted(n for n, c in vars(self.pm.hook).items()
                           if isinstance(c, pluggy.HookCaller) and c.has_spec())
            unknown = sorted(c.name for c in self.pm.get_hookcallers(obj) or () if not c.has_spec())
            hints = []
            for hook in unknown:
                close = difflib.get_close_matches(hook, known, n=1)
                hints.append(f"`{hook}`" + (f" (did you mean `{close[0]}`?)" if close else ""))
            raise ManifestError(
                f"plugin {name!r} implements unknown hook{'s' if len(hints) > 1 else ''} "
                f"{', '.join(hints)}; the hooks are listed in docs/plugin-hooks.md") from None

    def _fail(self, record: PluginRecord, error: str) -> None:
        record.status, record.error = "failed", error
        self.records.setdefault(record.name, record)
        if self.records[record.name] is not record:
            self.records[f"{record.name}@{record.source}"] = record
        log.error("plugin left out", extra={"plugin": record.name, "error": error})

    def _resolve_dependencies(self) -> None:
        """Drop plugins whose requirements are missing, of the wrong version, or cyclic."""
        changed = True
        while changed:
            changed = False
            for record in self.loaded():
                assert record.info is not None
                problem = self._requirement_problem(record.info)
                if problem:
                    self._unload(record, problem)
                    changed = True
        for cycle in self._cycles():
            for name in cycle:
                self._unload(self.records[name], f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}")

    def _requirement_problem(self, info: PluginInfo) -> str | None:
        for req in info.requirements:
            other = self.records.get(req.name)
            if other is None or other.status != "loaded" or other.info is None:
                return f"requires plugin {req.name!r} ({req}), which is not loaded"
            if req.specifier and Version(other.info.version) not in req.specifier:
                return f"requires {req}, but {req.name} {other.info.version} is installed"
        return None

    def _cycles(self) -> list[list[str]]:
        graph = {r.name: [q.name for q in r.info.requirements] for r in self.loaded() if r.info}
        cycles: list[list[str]] = []
        state: dict[str, int] = {}

        def visit(node: str, path: list[str]) -> None:
            state[node] = 1
            for nxt in graph.get(node, []):
                if state.get(nxt) == 1:
                    cycles.append(path[path.index(nxt):] if nxt in path else [nxt])
                elif nxt not in state:
                    visit(nxt, [*path, nxt])
            state[node] = 2

        for node in sorted(graph):
            if node not in state:
                visit(node, [node])
        return cycles

    def _unload(self, record: PluginRecord, error: str) -> None:
        if record.status != "loaded":
            return
        if record.obj is not None and self.pm.is_registered(record.obj):
            self.pm.unregister(record.obj)
        record.status, record.error = "failed", error
        log.error("plugin left out", extra={"plugin": record.name, "error": error})

    def freeze(self) -> None:
        self._frozen = True

    def _check_open(self) -> None:
        if self._frozen:
            raise RegistryFrozenError(
                "The plugin registry is frozen once create_app() returns. Pass extra plugins "
                "to create_app(config={'extra_plugins': [...]}) or install them as a "
                "'plugboard.plugins' entry point instead."
            )

    def unload(self, name: str, error: str) -> None:
        """Leave a plugin out after a failed registration step (inside create_app)."""
        self._check_open()
        self._unload(self.records[name], error)

    def leave_out(self, failed: Mapping[str, str]) -> None:
        """Leave out the plugins in ``failed`` (name -> error), then every plugin needing one."""
        self._check_open()
        for name, error in failed.items():
            self._unload(self.records[name], error)
        self._resolve_dependencies()

    # -- queries -------------------------------------------------------------------

    def loaded(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.status == "loaded"]

    def failures(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.status == "failed"]

    def get(self, name: str) -> PluginRecord | None:
        record = self.records.get(name)
        return record if record is not None and record.status == "loaded" else None

    def info(self, name: str) -> PluginInfo:
        record = self.get(name)
        if record is None or record.info is None:
            raise KeyError(name)
        return record.info

    def names(self) -> frozenset[str]:
        return frozenset(r.name for r in self.loaded())

    def dependents_of(self, name: str) -> list[str]:
        return sorted(
            r.name for r in self.loaded() if r.info and name in {q.name for q in r.info.requirements}
        )

    def implementers(self, hook: str) -> frozenset[str]:
        caller = getattr(self.pm.hook, hook)
        return frozenset(impl.plugin_name for impl in caller.get_hookimpls())

    # -- dispatch ------------------------------------------------------------------

    def call_plugin(self, name: str, hook: str, /, **kwargs: Any) -> list[Any]:
        """Call one plugin's implementation of ``hook`` (lifecycle and registration)."""
        record = self.get(name)
        if record is None:
            return []
        caller = self.pm.subset_hook_caller(
            hook, [r.obj for r in self.loaded() if r.name != name]
        )
        result = caller(**kwargs)
        return list(result) if isinstance(result, list) else [result]

    def hook_for(self, enabled: frozenset[str], hook: str) -> Any:
        """``hook`` restricted to the ``enabled`` plugins (pluggy's subset caller, cached)."""
        key = (hook, enabled)
        caller = self._subset_cache.get(key)
        if caller is None:
            excluded = [r.obj for r in self.loaded() if r.name not in enabled]
            caller = self.pm.subset_hook_caller(hook, excluded)
            if len(self._subset_cache) > 4096:
                self._subset_cache.clear()
            self._subset_cache[key] = caller
        return caller

    def notify(self, plugins: frozenset[str], hook: str, /, **kwargs: Any) -> dict[str, Exception]:
        """Call ``hook`` on each of ``plugins``; one plugin's exception stops no other.

        Failures are logged with the plugin's name and returned.
        """
        failures: dict[str, Exception] = {}
        caller = getattr(self.pm.hook, hook)
        for impl in reversed(caller.get_hookimpls()):
            if impl.plugin_name not in plugins:
                continue
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            try:
                impl.function(**args)
            except Exception as exc:
                failures[impl.plugin_name] = exc
                log.exception("plugin hook failed", extra={"plugin": impl.plugin_name, "hook": hook})
                for listener in self.hook_error_listeners:
                    listener(impl.plugin_name, hook)
        return failures

