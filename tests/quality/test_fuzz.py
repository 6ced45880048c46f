"""Schemathesis over every operation of the kernel and of every plugin (see fuzzing.py)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from plugboard.testing.fuzz import fuzz
from plugboard.testing.harness import operations, spec_of
from tests.quality import brokenplugin
from tests.quality.conftest import FuzzBudget

PHONE = "a valid phone number (phonenumbers' per-country rules; the document gives the form)"
UNKNOWN_QUERY = "unknown query parameters are ignored, as webargs does for every query"
# What the document still cannot state, by (operation, check): each is refused as a 422
# naming the pointer, with the rule in the field's description. Anything else the fuzzer
# finds fails the test; an entry here is work left, not a pass (see docs/writing-plugins.md).
KNOWN_GAPS: dict[tuple[str, str], str] = {
    ("POST /api/v1/api-keys", "positive_data_acceptance"): "expires_at in the future",
    ("POST /api/v1/customers", "positive_data_acceptance"): PHONE,
    ("PATCH /api/v1/customers/{customer_id}", "positive_data_acceptance"): PHONE,
    ("POST /api/v1/public/account/register", "positive_data_acceptance"): PHONE,
    ("GET /api/v1/comms/calls", "positive_data_acceptance"): PHONE,
    ("POST /api/v1/comms/calls", "positive_data_acceptance"): PHONE,
    ("GET /api/v1/comms/messages", "positive_data_acceptance"): PHONE,
    ("POST /api/v1/comms/opt-outs", "positive_data_acceptance"): PHONE,
    ("GET /api/v1/comms/opt-outs/{number}", "positive_data_acceptance"): PHONE,
    ("DELETE /api/v1/comms/opt-outs/{number}", "positive_data_acceptance"): PHONE,
    ("POST /api/v1/comms/sms", "positive_data_acceptance"): PHONE + "; body or template",
    ("POST /api/v1/comms/sms/preview", "positive_data_acceptance"): "body or template (oneOf)",
    ("POST /api/v1/billing/usage/events", "positive_data_acceptance"): "metrics the plan meters",
    ("POST /api/v1/billing/invoices/{invoice_id}/pay", "positive_data_acceptance"):
        "return_url: marshmallow's URL rules (scheme http(s), a dotted host) beyond format uri",
    ("POST /api/v1/public/payments/links/{token}", "positive_data_acceptance"): "return_url, as above",
    ("POST /api/v1/payments", "positive_data_acceptance"): "kind: a payable kind a plugin answers",
    ("POST /api/v1/payments/links", "positive_data_acceptance"): "kind, as above",
    ("POST /api/v1/pages", "positive_data_acceptance"):
        "Puck: component ids unique, zones owned by a component, the tenant's allowlist",
    ("PATCH /api/v1/pages/{page_id}", "positive_data_acceptance"): "Puck, as above",
    ("POST /api/v1/pages/assets", "positive_data_acceptance"): "the file's sniffed type (415)",
    ("PUT /api/v1/plugins/{name}/config", "positive_data_acceptance"): "each plugin's own JSON Schema",
    ("POST /api/v1/public/ticketing/orders", "positive_data_acceptance"): "an on-sale event of the tenant",
    ("PATCH /api/v1/admin/billing/accounts/{tenant}", "positive_data_acceptance"): "plan and overrides known",
    ("POST /api/v1/admin/billing/plans", "positive_data_acceptance"): "fees and charges consistent",
    ("PUT /api/v1/admin/plugins/{name}/bundles/current", "positive_data_acceptance"): "tenants exist",
    ("POST /api/v1/admin/tenants", "positive_data_acceptance"): "slug free and not reserved",
    ("PUT /api/v1/admin/tenants/{tenant_id}/plugins/{name}", "positive_data_acceptance"):
        "each plugin's own JSON Schema",
    ("GET /api/v1/billing/invoices", "negative_data_rejection"): UNKNOWN_QUERY,
    ("GET /api/v1/comms/messages", "negative_data_rejection"): UNKNOWN_QUERY,
    ("GET /api/v1/customers", "negative_data_rejection"): UNKNOWN_QUERY,
    ("GET /api/v1/payments", "negative_data_rejection"): UNKNOWN_QUERY,
    ("GET /api/v1/ticketing/orders", "negative_data_rejection"): UNKNOWN_QUERY,
    ("GET /api/v1/admin/billing/invoices", "negative_data_rejection"): UNKNOWN_QUERY,
}


def test_every_operation_holds_up_under_fuzzing(full_app: Callable[..., Flask],
                                                fuzz_budget: FuzzBudget) -> None:
    app = full_app()
    run = fuzz(app, examples=fuzz_budget.examples, seed=fuzz_budget.seed,
               deadline=fuzz_budget.seconds)
    findings = [str(f) for f in run.findings.values() if (f.operation, f.check) not in KNOWN_GAPS]
    assert not findings, "\n".join(findings)
    every = sorted(op.label for op in operations(spec_of(app)))
    assert sorted(run.operations) == every
    assert "POST /api/v1/full/notes" in every  # plugins' routes are in the spec, so fuzzed
    assert run.requests >= 2 * len(every)  # every operation, valid and invalid requests
    assert run.stateful_steps > 0  # the stateful phase followed links


def test_fuzzer_reports_a_view_that_raises_and_one_that_breaks_its_schema(
        full_app: Callable[..., Flask]) -> None:
    app = full_app(brokenplugin)
    run = fuzz(app, examples=5, select=lambda op: op.path.startswith("/api/v1/broken/"))
    found = {(f.operation, f.check) for f in run.findings.values()}
    assert ("GET /api/v1/broken/boom", "not_a_server_error") in found
    assert ("GET /api/v1/broken/shape", "response_schema_conformance") in found
    correct = {"GET /api/v1/broken/things", "POST /api/v1/broken/things"}
    assert not {op for op, _ in found} & correct, found
