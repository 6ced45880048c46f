"""Tenant B against tenant A's ids on every operation of the spec (see sweep.py)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from plugboard.testing.harness import callers, operations, spec_of
from plugboard.testing.sweep import Sweep, isolation_sweep
from tests.quality import brokenplugin

KERNEL_ITEMS = {
    "GET /api/v1/tenant/members/{member_id}", "PATCH /api/v1/tenant/members/{member_id}",
    "DELETE /api/v1/tenant/members/{member_id}", "GET /api/v1/tenant/domains/{domain_id}",
    "DELETE /api/v1/tenant/domains/{domain_id}", "GET /api/v1/api-keys/{key_id}",
    "DELETE /api/v1/api-keys/{key_id}",
}


def test_tenant_b_cannot_reach_tenant_a_through_any_operation(full_app: Callable[..., Flask]) -> None:
    app = full_app()
    sweep = isolation_sweep(app)
    assert not sweep.findings, "\n".join(str(f) for f in sweep.findings)
    assert set(sweep.probed) >= KERNEL_ITEMS
    with_ids = {op.label for op in operations(spec_of(app))
                if op.params and not op.is_admin and not op.is_public}
    assert set(sweep.probed) | set(sweep.shared) == with_ids
    # names both tenants see alike: plugin names, and the catalogue of mail templates (each
    # tenant's overrides of them are checked in tests/kernel/test_mail_templates.py)
    shared_catalogues = ("/plugins/{name}", "/tenant/mail-templates/{name}")
    assert all(any(c in label for c in shared_catalogues) for label in sweep.shared), sweep.shared


def test_sweep_reports_a_plugin_route_that_skips_tenant_scoping(full_app: Callable[..., Flask]) -> None:
    app = full_app(brokenplugin)
    sweep = isolation_sweep(app)
    item = "/api/v1/broken/things/{thing_id}"
    assert {f.operation for f in sweep.findings} == {f"GET {item}", f"DELETE {item}"}
    assert any("changed A's data" in f.message for f in sweep.findings if f.operation == f"DELETE {item}")


def test_admin_check_reports_a_caller_that_is_let_in(full_app: Callable[..., Flask]) -> None:
    app = full_app()
    who = callers(app)
    who.b = who.admin  # the platform admin is let in: every admin operation must be reported
    spec = spec_of(app)
    sweep = Sweep(app, who, spec)
    sweep.admin_refusals(spec)
    admin_ops = {op.label for op in operations(spec) if op.is_admin}
    reported = {f.operation for f in sweep.findings}
    assert admin_ops <= reported, admin_ops - reported
