"""Schemathesis over every operation of the kernel and of every plugin (see fuzzing.py)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from plugboard.testing.fuzz import fuzz
from plugboard.testing.harness import operations, spec_of
from tests.quality import brokenplugin
from tests.quality.conftest import FuzzBudget


def test_every_operation_holds_up_under_fuzzing(full_app: Callable[..., Flask],
                                                fuzz_budget: FuzzBudget) -> None:
    app = full_app()
    run = fuzz(app, examples=fuzz_budget.examples, seed=fuzz_budget.seed,
               deadline=fuzz_budget.seconds)
    findings = [str(f) for f in run.findings.values()]
    assert not findings, "\n".join(findings)
    every = sorted(op.label for op in operations(spec_of(app)))
    assert sorted(run.operations) == every
    assert "POST /api/v1/full/notes" in every  # plugins' routes are in the spec, so fuzzed
    assert run.requests >= 2 * len(every)  # every operation, valid and invalid requests


def test_fuzzer_reports_a_view_that_raises_and_one_that_breaks_its_schema(
        full_app: Callable[..., Flask]) -> None:
    app = full_app(brokenplugin)
    run = fuzz(app, examples=5, select=lambda op: op.path.startswith("/api/v1/broken/"))
    found = {(f.operation, f.check) for f in run.findings.values()}
    assert ("GET /api/v1/broken/boom", "not_a_server_error") in found
    assert ("GET /api/v1/broken/shape", "response_schema_conformance") in found
    correct = {"GET /api/v1/broken/things", "POST /api/v1/broken/things"}
    assert not {op for op, _ in found} & correct, found
