"""Schemathesis over every operation of an app's own OpenAPI document, as its callers.

:func:`fuzz` registers a tenant (every plugin on) and a platform admin, then for each
operation generates valid and invalid requests with Hypothesis and checks each answer:
no server error (an exception escaping a view counts), documented status code, content
type and body schema, and every error a problem+json with ``type``, ``title``, ``status``.
It returns the findings, one per (operation, check, message); an empty list is a pass.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from plugboard.testing.harness import SPEC_PATH, Finding, Operation, callers, operations, spec_of
from plugboard.testing.sweep import ORDER, Sweep, template_of

PROBLEM_MIMETYPE = "application/problem+json"
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def errors_are_problems(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
    """Every 4xx/5xx answer is RFC 9457 problem+json with type, title and the same status."""
    if response.status_code < 400:
        return None
    mimetype = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    assert mimetype == PROBLEM_MIMETYPE, f"{response.status_code} answered as {mimetype!r}"
    body = json.loads(response.content)
    missing = [k for k in ("type", "title", "status") if not body.get(k)]
    assert not missing, f"problem body lacks {missing}: {body}"
    assert body["status"] == response.status_code, f"body status {body['status']} != HTTP status"
    return True


# Answers any operation may give that only ``default`` documents: a body over the size
# limit, rate limiting, a dependency that is down. Anything else must be listed.
GENERIC_STATUSES = {413, 429, 503}


def status_is_listed(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
    """Stricter than status_code_conformance, which ``default`` satisfies for any code:
    what a client can expect from an operation is listed in its own responses."""
    listed = {str(code) for code in case.operation.definition.raw.get("responses", {})}
    code = response.status_code
    assert str(code) in listed or code in GENERIC_STATUSES or code >= 500, (
        f"{code} is not among the documented responses {sorted(listed)}")
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, errors_are_problems, status_is_listed]


@dataclass
class FuzzRun:
    """Where findings go, and how many requests were made."""

    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    requests: int = 0
    operations: list[str] = field(default_factory=list)

    def add(self, op: str, check: str, message: str) -> None:
        message = " ".join(message.split())[:600]
        key = (op, check, message[:120])
        self.findings.setdefault(key, Finding(op, check, message))


def _settings(examples: int, seed: int | None) -> Callable[[Any], Any]:
    conf = settings(
        max_examples=examples,
        deadline=None,
        derandomize=seed is None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # report, don't shrink: a run stays bounded
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    if seed is None:
        return conf
    return lambda fn: hypothesis.seed(seed)(conf(fn))


def _failure_name(failure: Failure) -> str:
    """The check that failed: a built-in's name, or ours from "Custom check failed: `name`"."""
    title = failure.title or ""
    if "`" in title:
        return title.split("`")[1]
    return (type(failure).checks or (title or type(failure).__name__,))[0]


def _exercise(op: Operation, strategy: Any, headers: dict[str, str], run: FuzzRun,
              examples: int, seed: int | None) -> None:
    @_settings(examples, seed)
    @given(case=strategy)
    def test(case: Case) -> None:
        run.requests += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # TESTING propagates a view's exception: a server error
            run.add(op.label, "not_a_server_error", f"{type(exc).__name__}: {exc}")
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                detail = f"{failure.message} (got {response.status_code} for "
                detail += f"{case.method} {case.formatted_path} body={case.body!r:.200})"
                run.add(op.label, _failure_name(failure), detail)

    test()


def fuzz(app: Flask, *, examples: int = 15, seed: int | None = None, deadline: float | None = None,
         select: Callable[[Operation], bool] | None = None) -> FuzzRun:
    """Fuzz every operation of ``app`` (or those ``select`` picks); findings are in the result.

    Each operation is fuzzed with generated path parameters, then again with the ids of
    objects the tenant really has (found as the isolation sweep finds them), so views get
    past their lookups. ``examples`` bounds each operation, generation mode and pass;
    ``deadline`` (seconds) bounds the run, which then ends with a ``budget`` finding.
    """
    who = callers(app)
    spec = spec_of(app)
    schema = schemathesis.openapi.from_wsgi(SPEC_PATH, app)
    tenant = Sweep(app, who, spec)
    tenant.seed()
    real = tenant.harvest(who.a)
    run = FuzzRun()
    started = time.monotonic()
    # Tenant operations first: an admin operation may suspend the tenant that calls them.
    ops = sorted(operations(spec), key=lambda op: (op.is_admin, op.path, ORDER[op.method]))
    for op in ops:
        if select is not None and not select(op):
            continue
        run.operations.append(op.label)
        passes: list[dict[str, str]] = [{}]
        template = template_of(op.path, real) if op.params and not op.is_admin else None
        if template and real[template]:
            passes.append({k: v for k, v in real[template][0].items() if k in op.params})
        for fixed, mode in itertools.product(passes, MODES):
            try:
                strategy = schema[op.path][op.method].as_strategy(mode, path_parameters=fixed or None)
                _exercise(op, strategy, who.headers_for(op), run, examples, seed)
            except hypothesis.errors.Unsatisfiable:
                continue  # no invalid request exists for an operation without inputs
        if deadline is not None and time.monotonic() - started > deadline:
            run.add(op.label, "budget", f"stopped after {deadline}s; raise the budget or lower examples")
            break
    return run
