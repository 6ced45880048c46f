"""The tenant isolation sweep, generated from an app's own OpenAPI document.

:func:`isolation_sweep` has tenant A create objects through A's own create operations,
harvests the ids A can see by calling every list operation, then calls every operation
whose path names an object, with tenant B's credentials and A's ids. Each call must be
refused (404, or 403 where the operation documents it) with a problem, and leave A's rows
as they were. B must also be refused (403) by every platform admin operation.

Ids are found generically: a list at ``L`` yields the values of ``{p}`` for the item path
``L/{p}`` (the items' ``p`` field, else their ``id``). Values B sees as well (plugin names)
are a shared namespace, not A's objects, and are skipped; a UUID both see is a leak. A path
parameter for which no value can be harvested at all is reported as uncovered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode

from kernel.data.base import Base
from kernel.data.session import db
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope
from plugboard.testing.clients import Account
from plugboard.testing.harness import (
    PARAM,
    SPEC_PATH,
    Callers,
    Finding,
    Operation,
    callers,
    fill,
    operations,
    spec_of,
)

Binding = dict[str, str]
VALIDATION = {400, 415, 422}
ORDER = {"GET": 0, "PUT": 1, "PATCH": 1, "POST": 1, "DELETE": 2}  # destructive calls last


def _examples(api_op: Any, tries: int, attempt: Callable[[Case], bool], **fixed: Any) -> None:
    """Run ``attempt`` on generated valid requests until it returns True (``tries`` at most)."""
    done = [False]

    @settings(max_examples=tries, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=api_op.as_strategy(GenerationMode.POSITIVE, **fixed))
    def run(case: Case) -> None:
        if not done[0]:
            done[0] = attempt(case)

    run()


def _call(case: Case, account: Account) -> Any:
    try:
        return case.call(headers=dict(account.headers))
    except Exception:  # a view that raises is the fuzzer's finding, not the sweep's
        return None


class Sweep:
    def __init__(self, app: Flask, who: Callers, spec: dict[str, Any]) -> None:
        self.app, self.who = app, who
        self.schema = schemathesis.openapi.from_wsgi(SPEC_PATH, app)
        self.ops = [op for op in operations(spec) if not op.is_admin and not op.is_public]
        self.lists = sorted((op for op in self.ops if op.method == "GET" and not op.path.endswith("}")),
                            key=lambda op: (len(op.params), op.path))
        self.items = {t for op in self.ops for t in _item_templates(op.path)}
        self.findings: list[Finding] = []
        self.probed: list[str] = []  # operations B called with A's ids
        self.shared: list[str] = []  # operations whose ids both tenants see (plugin names)

    # -- A's objects ----------------------------------------------------------------------

    def seed(self) -> None:
        """A calls its create operations (collection POSTs first, then actions on them); it
        already holds every plugin's demo data (``harness.callers``), e.g. a settled payment
        or an invoice, which no generated request can create."""
        for with_params in (False, True):
            bindings = self.harvest(self.who.a)
            for op in self.ops:
                if op.method != "POST" or bool(op.params) != with_params:
                    continue
                fixed = self._binding_for(op, bindings) if op.params else {}
                if fixed is None:
                    continue
                api_op = self.schema[op.path][op.method]
                _examples(api_op, 15, lambda case: _ok(_call(case, self.who.a)),
                          path_parameters=fixed)

    def harvest(self, account: Account) -> dict[str, list[Binding]]:
        """Item path template -> the bindings of its parameters that ``account`` can list."""
        found: dict[str, list[Binding]] = {}
        client = self.app.test_client()
        for op in self.lists:
            parents = [{}] if not op.params else _bindings_under(op.path, found)[:3]
            for parent in parents:
                for item in _listed(client, fill(op.path, parent), account):
                    self._collect(op.path, parent, item, found)
        return found

    def _collect(self, path: str, parent: Binding, item: Any, found: dict[str, list[Binding]]) -> None:
        if not isinstance(item, dict):
            return
        for template in self.items:
            head, _, name = template.rpartition("/{")
            name = name.rstrip("}")
            value = item.get(name, item.get("id"))
            if head == path and value is not None:
                binding = {**parent, name: str(value)}
                if binding not in found.setdefault(template, []):
                    found[template].append(binding)

    def _binding_for(self, op: Operation, bindings: dict[str, list[Binding]]) -> Binding | None:
        template = template_of(op.path, bindings)
        return bindings[template][0] if template and bindings[template] else None

    # -- B against A's objects ------------------------------------------------------------

    def cross_tenant(self) -> None:
        mine, theirs = self.harvest(self.who.a), self.harvest(self.who.b)
        owned: dict[str, list[Binding]] = {}
        for template, bindings in mine.items():
            for binding in bindings:
                if binding not in theirs.get(template, []):
                    owned.setdefault(template, []).append(binding)
                elif any(_is_uuid(v) for v in binding.values()):
                    self.findings.append(Finding(f"GET {template.rpartition('/')[0]}", "list-leak",
                                                 f"tenant B's list shows tenant A's {binding}"))
        for op in sorted(self.ops, key=lambda op: (ORDER[op.method], op.path)):
            if not op.params:
                continue
            template = template_of(op.path, {**mine, **theirs})
            if template is None or set(op.params) - set(PARAM.findall(template)):
                self.findings.append(Finding(op.label, "uncovered", (
                    f"no list operation yields values for {op.params}; add a GET of the "
                    "collection whose items carry `id` (or the parameter's name)")))
            elif owned.get(template):
                self._probe(op, owned[template][0])
            else:
                self.shared.append(op.label)

    def _probe(self, op: Operation, binding: Binding) -> None:
        fixed = {k: v for k, v in binding.items() if k in op.params}
        self.probed.append(op.label)
        before = tenant_rows(self.app, self.who.a.tenant_id)
        verdict: list[str] = []

        def attempt(case: Case) -> bool:
            resp = _call(case, self.who.b)
            if resp is None:
                verdict.append("the view raised")
                return True
            if resp.status_code in VALIDATION:
                return False
            verdict.append(_refusal_problem(op, resp))
            return True

        _examples(self.schema[op.path][op.method], 10, attempt, path_parameters=fixed)
        if not verdict:
            verdict.append("inconclusive: every generated request failed validation")
        if verdict[0]:
            self.findings.append(Finding(op.label, "isolation", f"{verdict[0]} (A's {fixed})"))
        if tenant_rows(self.app, self.who.a.tenant_id) != before:
            self.findings.append(Finding(op.label, "isolation", f"tenant B changed A's data ({fixed})"))

    # -- admin operations -----------------------------------------------------------------

    def admin_refusals(self, spec: dict[str, Any]) -> None:
        client = self.app.test_client()
        values = {"tenant_id": self.who.a.tenant_id, "name": (self.who.plugins or ["x"])[0]}
        before = tenant_rows(self.app, self.who.a.tenant_id)
        for op in operations(spec):
            if not op.is_admin:
                continue
            path = fill(op.path, {p: values.get(p, str(uuid.uuid4())) for p in op.params})
            resp = client.open(path, method=op.method, headers=self.who.b.headers)
            problem = _problem_error(resp)
            if resp.status_code != 403 or problem:
                self.findings.append(Finding(op.label, "admin-only",
                                             f"tenant owner got {resp.status_code}, not 403 {problem}"))
        if tenant_rows(self.app, self.who.a.tenant_id) != before:
            self.findings.append(Finding("admin operations", "admin-only", "a tenant owner changed data"))


def isolation_sweep(app: Flask, who: Callers | None = None) -> Sweep:
    """Sweep ``app``; ``.findings`` lists what is wrong (empty: B never reached A's objects)."""
    spec = spec_of(app)
    sweep = Sweep(app, who or callers(app), spec)
    sweep.seed()
    sweep.cross_tenant()
    sweep.admin_refusals(spec)
    return sweep


def tenant_rows(app: Flask, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Tenant A's rows of every model table in the database (and every row of shared ones)."""
    tid = uuid.UUID(tenant_id)
    existing = set(sa.inspect(kernel_services(app).engine).get_table_names())
    out: dict[str, list[tuple[Any, ...]]] = {}
    with app.app_context(), platform_scope():
        for table in Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            stmt = sa.select(table)
            if "tenant_id" in table.c:
                stmt = stmt.where(table.c.tenant_id == tid)
            elif table.name == "tenants":
                stmt = stmt.where(table.c.id == tid)
            rows = [tuple(r) for r in db.session.execute(stmt)]
            out[table.name] = sorted(rows, key=lambda r: [str(v) for v in r])
    return out


def _refusal_problem(op: Operation, resp: Any) -> str:
    """'' when ``resp`` is a proper refusal of a cross-tenant call, else what is wrong."""
    allowed = {404} | ({403} if "403" in op.documented else set())
    problem = _problem_error(resp)
    if resp.status_code not in allowed:
        return f"tenant B got {resp.status_code}, not {sorted(allowed)}"
    if problem:
        return problem
    if str(resp.json().get("type", "")).endswith("/plugin-not-enabled"):
        return "refused as plugin-not-enabled: B's plugin is off, the ids were never checked"
    return ""


def _problem_error(resp: Any) -> str:
    """'' when ``resp`` (werkzeug's or schemathesis') is problem+json, else what it is."""
    value = resp.headers.get("content-type") or ""
    mimetype = (value[0] if isinstance(value, list) else value).split(";")[0].strip()
    return "" if mimetype == "application/problem+json" else f"answered as {mimetype!r}, not a problem"


def _listed(client: Any, path: str, account: Account) -> list[Any]:
    """The items a list operation answers ``account``; none when it fails."""
    try:
        resp = client.get(path, headers=account.headers, query_string={"page_size": 100})
    except Exception:  # a view that raises is the fuzzer's finding, not the sweep's
        return []
    body = resp.get_json(silent=True) if resp.status_code == 200 else None
    return body if isinstance(body, list) else []


def _ok(resp: Any) -> bool:
    return resp is not None and 200 <= resp.status_code < 300


def _item_templates(path: str) -> list[str]:
    """Every prefix of ``path`` that ends with a parameter: ``/x/{a}``, ``/x/{a}/y/{b}``."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i, part in enumerate(parts) if PARAM.fullmatch(part)]


def template_of(path: str, bindings: dict[str, list[Binding]]) -> str | None:
    fits = [t for t in bindings if path == t or path.startswith(t + "/")]
    return max(fits, key=len) if fits else None


def _bindings_under(path: str, found: dict[str, list[Binding]]) -> list[Binding]:
    template = template_of(path, found)
    if template is None or set(PARAM.findall(path)) - set(PARAM.findall(template)):
        return []
    return found[template]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
