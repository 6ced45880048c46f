"""Schemathesis over every operation of an app's own OpenAPI document, as its callers.

:func:`fuzz` registers a tenant (every plugin on) and a platform admin, then for each
operation generates valid and invalid requests with Hypothesis and checks each answer
with every Schemathesis check that applies to one answer: no server error (an exception
escaping a view counts), documented status code, content type, body and header schemas
(a header documented as JSON ``content`` is parsed and validated too), invalid data
refused, valid data accepted, authentication not ignored; and ours: every error a
problem+json with ``type``, ``title``, ``status``, every status listed by the operation.
Then a stateful phase follows the document's links (and the ones Schemathesis infers)
from creates to reads, updates and deletes, adding ``use_after_free`` and
``ensure_resource_availability``. It returns the findings, one per (operation, check,
message); an empty list is a pass.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import jsonschema
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
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


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def json_headers_conform(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
    """A header documented with ``content: application/json`` (X-Pagination) is that JSON.

    response_headers_conformance validates a header's ``schema`` only; this is the same
    check for the other form OpenAPI gives a header.
    """
    root = case.operation.schema.raw_schema
    documented = case.operation.definition.raw.get("responses", {}).get(str(response.status_code))
    headers = _resolve(root, documented or {}).get("headers", {})
    for name, header in headers.items():
        media = _resolve(root, header).get("content", {}).get("application/json")
        values = response.headers.get(name.lower())
        if media is None or not values:
            continue
        try:
            value = json.loads(values[0])
        except ValueError:
            raise AssertionError(f"header {name} is documented as JSON but is {values[0]!r}") from None
        schema = {**_resolve(root, media.get("schema", {})), "components": root.get("components", {})}
        errors = [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(value)]
        assert not errors, f"header {name} {value!r} does not match its schema: {errors}"
    return True


# The answers to a valid request that depend on state, not on the request's form: a stale
# ETag (412), a used or unknown token, an Idempotency-Key sent before with another body.
# positive_data_acceptance counts them as refusals; a refusal of the form is a
# ``validation-error`` (or a bare 400), which is what the document must rule out.
STATE_REFUSALS = {412}


def _problem_type(response: schemathesis.Response) -> str:
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    return str(body.get("type", "")) if isinstance(body, dict) else ""


def valid_data_is_accepted(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
    """positive_data_acceptance, except refusals that depend on state (see STATE_REFUSALS)."""
    code = response.status_code
    if code in STATE_REFUSALS:
        return None
    if code in (400, 422):
        kind = _problem_type(response).rsplit("/", 1)[-1]
        if kind not in ("validation-error", "bad-request", ""):
            return None
    return positive_data_acceptance(ctx, response, case)  # type: ignore[no-any-return]


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, json_headers_conform,
          negative_data_rejection, valid_data_is_accepted, ignored_auth,
          errors_are_problems, status_is_listed]
STATEFUL_CHECKS = [*CHECKS, use_after_free, ensure_resource_availability]
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass
class FuzzRun:
    """Where findings go, and how many requests were made."""

    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    requests: int = 0
    operations: list[str] = field(default_factory=list)
    stateful_steps: int = 0  # requests made by the stateful phase

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


def _unique_key(case: Case, headers: dict[str, str]) -> dict[str, str]:
    """A valid request's Idempotency-Key, fresh: Hypothesis repeats small values ("0"),
    and a key sent again with another body is rightly a 422."""
    if case.headers and IDEMPOTENCY_HEADER in case.headers and case.meta is not None \
            and case.meta.generation.mode.is_positive:
        return {**headers, IDEMPOTENCY_HEADER: uuid.uuid4().hex}
    return headers


def _check(op: str, case: Case, response: Any, headers: dict[str, str], run: FuzzRun,
           checks: list[Any], **kwargs: Any) -> None:
    try:
        case.validate_response(response, checks=checks, headers=headers, **kwargs)
    except (FailureGroup, Failure) as found:
        failures = found.exceptions if isinstance(found, FailureGroup) else [found]
        for failure in failures:
            detail = f"{failure.message} (got {response.status_code} for "
            detail += f"{case.method} {case.formatted_path} body={case.body!r:.200})"
            run.add(op, _failure_name(failure), detail)


def _exercise(op: Operation, strategy: Any, headers: dict[str, str], run: FuzzRun,
              examples: int, seed: int | None) -> None:
    @_settings(examples, seed)
    @given(case=strategy)
    def test(case: Case) -> None:
        run.requests += 1
        sent = _unique_key(case, headers)
        try:
            response = case.call(headers=sent)
        except Exception as exc:  # TESTING propagates a view's exception: a server error
            run.add(op.label, "not_a_server_error", f"{type(exc).__name__}: {exc}")
            return
        _check(op.label, case, response, sent, run, CHECKS)

    test()


def _stateful(schema: Any, who: Any, run: FuzzRun, examples: int, seed: int | None) -> None:
    """Scenarios along the links, as the tenant's owner (admin operations stay stateless:
    one may suspend the tenant the scenarios run as)."""
    machine = schema.exclude(path_regex="^/api/v1/admin").as_state_machine()

    class Scenarios(machine):  # type: ignore[misc, valid-type]
        def _headers(self, case: Case) -> dict[str, str]:
            op = Operation(case.method.upper(), case.operation.path, case.operation.definition.raw)
            return _unique_key(case, who.headers_for(op))

        def call(self, case: Case, **kwargs: Any) -> Any:
            run.requests += 1
            run.stateful_steps += 1
            headers = self._headers(case)
            self._sent = headers
            try:
                return case.call(headers=headers)
            except Exception as exc:  # a view's exception: a server error
                run.add(case.operation.label, "not_a_server_error", f"{type(exc).__name__}: {exc}")
                raise

        def validate_response(self, response: Any, case: Case, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            _check(case.operation.label, case, response, self._sent, run, STATEFUL_CHECKS,
                   recorder=self.recorder)

    conf = settings(max_examples=examples, stateful_step_count=6, deadline=None,
                    derandomize=seed is None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck), print_blob=False)
    if seed is not None:
        conf = settings(conf, derandomize=False)
        hypothesis.seed(seed)
    try:
        Scenarios.run(settings=conf)
    except Exception as exc:  # a scenario stopped by a server error, reported above
        run.add("stateful", "not_a_server_error", f"{type(exc).__name__}: {str(exc)[:300]}")


def fuzz(app: Flask, *, examples: int = 15, seed: int | None = None, deadline: float | None = None,
         select: Callable[[Operation], bool] | None = None, stateful: int | None = None) -> FuzzRun:
    """Fuzz every operation of ``app`` (or those ``select`` picks); findings are in the result.

    Each operation is fuzzed with generated path parameters, then again with the ids of
    objects the tenant really has (found as the isolation sweep finds them), so views get
    past their lookups. ``examples`` bounds each operation, generation mode and pass;
    ``deadline`` (seconds) bounds the run, which then ends with a ``budget`` finding.
    ``stateful`` is the number of link-following scenarios afterwards (default: as
    many as ``examples``, none when ``select`` picks operations; 0 skips the phase).
    """
    who = callers(app)
    spec = spec_of(app)
    schema = schemathesis.openapi.from_wsgi(SPEC_PATH, app)
    # Text never holds U+0000 (PostgreSQL cannot store it): every body, query and path is
    # refused with a 422 naming it, a rule of the whole API that tests/kernel pin down.
    schema.config.generation.update(allow_x00=False)
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
            return run
    scenarios = (0 if select else examples) if stateful is None else stateful
    if scenarios:
        _stateful(schema, who, run, scenarios, seed)
    return run
