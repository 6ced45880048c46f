"""The quality gates as functions a plugin's own tests call.

``fuzz_plugin(app, plugin="notes")`` runs Schemathesis over the plugin's operations (those
under ``/api/v1/notes``, ``/api/v1/public/notes``, ``/api/v1/webhooks/notes`` and
``/api/v1/admin/notes`` in the app's OpenAPI document); ``isolation_sweep(app,
plugin="notes")`` has tenant B call every one of them with tenant A's ids. Both return a
:class:`GateResult`; ``result.assert_clean()`` fails the test with every finding listed.
Without ``plugin`` they cover every operation of the app, kernel included.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from plugboard.testing.harness import Finding, Operation, callers, operations, spec_of

#: where a plugin's routes live (the kernel refuses blueprints elsewhere)
PLUGIN_PREFIXES = ("/api/v1/{name}", "/api/v1/public/{name}", "/api/v1/webhooks/{name}",
                   "/api/v1/admin/{name}")


def belongs_to(plugin: str) -> Callable[[Operation], bool]:
    """Whether an operation is one of ``plugin``'s routes."""
    prefixes = [p.format(name=plugin) for p in PLUGIN_PREFIXES]
    return lambda op: any(op.path == p or op.path.startswith(p + "/") for p in prefixes)


@dataclass
class GateResult:
    """What a gate checked and what it found; no findings is a pass."""

    gate: str  # "fuzz" or "isolation"
    plugin: str | None
    operations: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    requests: int = 0

    def assert_clean(self) -> None:
        """Fail with every finding, or when nothing was checked at all (a plugin whose routes
        are missing from the OpenAPI document must not pass by checking nothing)."""
        scope = f"plugin {self.plugin!r}" if self.plugin else "the app"
        assert self.operations, f"{self.gate}: no operation of {scope} is in the OpenAPI document"
        assert not self.findings, f"{self.gate} found {len(self.findings)} problem(s) in {scope}:\n" + (
            "\n".join(f"  {f}" for f in self.findings))


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def fuzz_plugin(app: Flask, plugin: str | None = None, *, examples: int | None = None,
                seed: int | None = None, deadline: float | None = None) -> GateResult:
    """Schemathesis over ``plugin``'s operations (every operation without ``plugin``).

    As a tenant owner with every loaded plugin enabled (a plugin whose config is required
    gets the first of its ``config_schema`` ``examples``), valid and invalid requests, first
    with generated path ids, then with ids of objects the tenant really has. Checks: no 5xx
    (an exception escaping a view counts), documented status codes, content types and body
    schemas, every error problem+json. ``examples`` per operation and mode (default 15, or
    ``PLUGBOARD_FUZZ_EXAMPLES``), ``seed`` (``PLUGBOARD_FUZZ_SEED``; default: the same
    derandomized run every time), ``deadline`` in seconds (``PLUGBOARD_FUZZ_BUDGET``).
    """
    from plugboard.testing.fuzz import fuzz

    budget = os.environ.get("PLUGBOARD_FUZZ_BUDGET")
    run = fuzz(app, examples=examples or _env_int("PLUGBOARD_FUZZ_EXAMPLES") or 15,
               seed=seed if seed is not None else _env_int("PLUGBOARD_FUZZ_SEED"),
               deadline=deadline if deadline is not None else (float(budget) if budget else None),
               select=belongs_to(plugin) if plugin else None)
    return GateResult("fuzz", plugin, list(run.operations), list(run.findings.values()), run.requests)


def isolation_sweep(app: Flask, plugin: str | None = None) -> GateResult:
    """Tenant B against tenant A's objects on ``plugin``'s operations (every one without).

    Tenant A creates objects through the plugin's create (POST) operations; their ids are
    harvested from its list operations (the items' ``id`` or the field named like the path
    parameter); tenant B then calls every operation whose path names an object, with A's
    ids: each must answer 404 (or a documented 403) as problem+json and change none of A's
    rows. B must get 403 from the plugin's admin operations. An ``…/{id}`` operation with no
    list operation at its parent path is reported ``uncovered``.
    """
    from plugboard.testing.sweep import Sweep

    spec = spec_of(app)
    if plugin:
        keep = belongs_to(plugin)
        paths = {path: item for path, item in spec["paths"].items()
                 if any(keep(op) for op in operations({"paths": {path: item}}))}
        spec = {**spec, "paths": paths}
    sweep = Sweep(app, callers(app), spec)
    sweep.seed()
    sweep.cross_tenant()
    sweep.admin_refusals(spec)
    checked = sorted({*sweep.probed, *sweep.shared,
                      *(op.label for op in operations(spec) if op.is_admin)} or
                     {op.label for op in operations(spec)})
    return GateResult("isolation", plugin, checked, list(sweep.findings), len(sweep.probed))


def findings_of(result: GateResult, check: str | None = None) -> set[tuple[str, str]]:
    """``{(operation, check)}`` of ``result``'s findings (of one ``check`` if given)."""
    return {(f.operation, f.check) for f in result.findings if check is None or f.check == check}


__all__ = ["GateResult", "belongs_to", "findings_of", "fuzz_plugin", "isolation_sweep"]


