"""Plans and accounts through the admin routes; restriction; the plan-change rule."""

from __future__ import annotations

import datetime as dt

import time_machine

from tests.helpers import Api, assert_problem, assert_rejected
from tests.plugins.billing.conftest import ADMIN, BILLING, PLAN, Billed, create_plan, set_account


def test_admin_creates_plans_and_a_code_is_taken_once(api: Api, admin) -> None:
    plan = create_plan(api, admin)
    assert plan["code"] == "growth" and plan["charges"][0]["unit_amount"] == "0.5"
    assert_problem(api.post(f"{ADMIN}/plans", admin, json=PLAN), 409, "billing-conflict")
    assert [p["code"] for p in api.get(f"{ADMIN}/plans", admin).get_json()] == ["growth"]


def test_plan_validation_names_the_field(api: Api, admin) -> None:
    assert_rejected(api, "POST", f"{ADMIN}/plans", admin, {**PLAN, "currency": "EURO"}, "/currency")
    bad_charge = {"metric": "gb", "aggregation": "sum", "model": "per_unit", "unit_amount": 1}
    assert_rejected(api, "POST", f"{ADMIN}/plans", admin, {**PLAN, "charges": [bad_charge]},
                    "/charges/0/property")
    tiers = {"metric": "calls", "aggregation": "count", "model": "graduated",
             "tiers": [{"up_to": 10, "unit_amount": 1}, {"up_to": 5, "unit_amount": 1}]}
    assert_rejected(api, "POST", f"{ADMIN}/plans", admin, {**PLAN, "charges": [tiers]}, "/charges/0/tiers")
    assert_rejected(api, "POST", f"{ADMIN}/plans", admin,
                    {**PLAN, "fees": [{"name": "x", "amount": -1, "interval": "month"}]}, "/fees/0/amount")


def test_tenants_cannot_switch_billing_or_reach_admin_routes(api: Api, billed: Billed) -> None:
    resp = api.put("/api/v1/plugins/billing/activation", billed.owner, json={"enabled": False})
    assert_problem(resp, 403, "plugin-restricted")
    assert_problem(api.get(f"{ADMIN}/plans", billed.owner), 403)
    assert api.get(BILLING, billed.owner).status_code == 200


def test_billing_is_off_for_tenants_the_admin_did_not_enable(api: Api, admin) -> None:
    other = api.register("other")
    assert_problem(api.get(BILLING, other), 404, "plugin-not-enabled")


def test_account_terms_and_illegal_status_change(api: Api, billed: Billed) -> None:
    body = set_account(api, billed.admin, billed.tenant_id, net_days=30, tax_rate_bp=1900,
                       tax_id="DE123")
    assert (body["net_days"], body["tax_rate_bp"], body["plan"]) == (30, 1900, "growth")
    set_account(api, billed.admin, billed.tenant_id, status="closed")
    resp = api.patch(f"{ADMIN}/accounts/{billed.tenant_id}", billed.admin, json={"status": "overdue"})
    problem = assert_problem(resp, 409, "illegal-transition")
    assert (problem["current"], problem["requested"]) == ("closed", "overdue")


def test_a_plan_change_takes_effect_next_period(api: Api, admin) -> None:
    from tests.plugins.billing.conftest import billed_tenant

    create_plan(api, admin)
    create_plan(api, admin, code="scale", name="Scale")
    with time_machine.travel(dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC), tick=False):
        tenant = billed_tenant(api, admin, "acme")
        set_account(api, admin, tenant.tenant_id, plan="scale")
        services = api.get(f"{BILLING}/services", tenant.owner).get_json()
        assert api.get(BILLING, tenant.owner).get_json()["account"]["plan"] == "growth"
    assert [(s["plan"]["code"], s["starts_at"][:10], (s["ends_at"] or "")[:10]) for s in services] == [
        ("growth", "2026-11-10", "2026-12-01"), ("scale", "2026-12-01", "")]
