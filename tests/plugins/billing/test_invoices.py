"""Invoices through the API: proration of a first month, credits, void, paying, refunds,
manual payments, resolve_payable, tenant isolation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine

from kernel.api import tenant_hook, tenant_scope
from tests.helpers import Api, assert_problem
from tests.plugins.billing.conftest import (
    ADMIN,
    BILLING,
    billed_tenant,
    create_plan,
    emit_payment,
    relogin,
    run_job,
)


def at(when: str) -> Any:
    return time_machine.travel(dt.datetime.fromisoformat(when), tick=False)


def invoiced(api: Api, admin: Any, slug: str = "acme", **account: Any) -> tuple[Any, dict[str, Any]]:
    """A tenant subscribed on 2026-10-11 (21 of 31 days) and its October invoice."""
    with at("2026-10-11T12:00:00+00:00"):
        admin = relogin(api, admin)
        if not api.get(f"{ADMIN}/plans", admin).get_json():
            create_plan(api, admin)
        tenant = billed_tenant(api, admin, slug, **account)
    with at("2026-11-01T00:00:05+00:00"):
        assert run_job(api.app, "billing.generate_invoices", tenant.tenant_id) == "succeeded"
        owner = relogin(api, tenant.owner)
        [invoice] = api.get(f"{BILLING}/invoices", owner).get_json()
    return tenant, invoice


def test_a_first_partial_month_is_prorated_by_days(api: Api, admin: Any) -> None:
    _, invoice = invoiced(api, admin)
    fee = invoice["lines"][0]
    assert fee["amount"] == 1965  # 2900 x 21/31 = 1964.5 -> 1965 (half up)
    assert "prorated" in fee["description"] and invoice["total"] == 1965


def test_credits_are_applied_and_given_back_when_voided(api: Api, admin: Any) -> None:
    with at("2026-10-11T12:00:00+00:00"):
        admin = relogin(api, admin)
        create_plan(api, admin)
        tenant = billed_tenant(api, admin, "acme")
        body = {"tenant": str(tenant.tenant_id), "amount": 5000, "currency": "EUR", "reason": "Launch"}
        assert api.post(f"{ADMIN}/credits", admin, json=body).status_code == 201
    with at("2026-11-01T00:00:05+00:00"):
        run_job(api.app, "billing.generate_invoices", tenant.tenant_id)
        admin = relogin(api, admin)
        [invoice] = api.get(f"{ADMIN}/invoices", admin).get_json()
        assert (invoice["credit_applied"], invoice["total"], invoice["status"]) == (1965, 0, "paid")
        overview = api.get(BILLING, relogin(api, tenant.owner)).get_json()
        assert overview["credit"] == {"amount": 5000 - 1965, "currency": "EUR"}
        resp = api.post(f"{ADMIN}/invoices/{invoice['id']}/void", admin, json={"reason": "wrong"})
        problem = assert_problem(resp, 409, "illegal-transition")
        assert (problem["current"], problem["requested"]) == ("paid", "void")


def test_void_gives_credit_back_and_keeps_the_number_used(api: Api, admin: Any) -> None:
    tenant, invoice = invoiced(api, admin)
    with at("2026-11-02T00:00:00+00:00"):
        admin = relogin(api, admin)
        assert_problem(api.post(f"{ADMIN}/invoices/{invoice['id']}/void", admin, json={}), 422)
        resp = api.post(f"{ADMIN}/invoices/{invoice['id']}/void", admin, json={"reason": "Duplicate"})
        assert resp.status_code == 200, resp.get_json()
        assert (resp.get_json()["status"], resp.get_json()["number"]) == ("void", "INV-000001")
        owner = relogin(api, tenant.owner)
        assert_problem(api.post(f"{BILLING}/invoices/{invoice['id']}/pay", owner, json={}), 409,
                       "invoice-not-payable")


def test_pay_starts_a_payment_through_the_collector_and_payments_add_up(api: Api, admin: Any) -> None:
    from tests.testplugins import collector

    tenant, invoice = invoiced(api, admin)
    with at("2026-11-02T00:00:00+00:00"):
        owner = relogin(api, tenant.owner)
        resp = api.post(f"{BILLING}/invoices/{invoice['id']}/pay", owner,
                        json={"return_url": "https://acme.example.com/billing"})
        assert resp.status_code == 201, resp.get_json()
        started = collector.STARTED[-1]
        assert (started["kind"], started["ref"], started["amount"], started["receiving_account"]) == (
            "billing.invoice", invoice["id"], 1965, "platform")
        emit_payment(api.app, tenant.tenant_id, invoice["id"], 965, payment_id="p1")
        emit_payment(api.app, tenant.tenant_id, invoice["id"], 965, payment_id="p1")  # redelivered
        half = api.get(f"{BILLING}/invoices/{invoice['id']}", owner).get_json()
        assert (half["status"], half["amount_paid"], half["amount_due"]) == ("finalized", 965, 1000)
        resp = api.post(f"{BILLING}/invoices/{invoice['id']}/pay", owner, json={})
        assert resp.get_json()["amount"] == 1000  # what is left
        emit_payment(api.app, tenant.tenant_id, invoice["id"], 1000, payment_id="p2")
        assert api.get(f"{BILLING}/invoices/{invoice['id']}", owner).get_json()["status"] == "paid"
        assert_problem(api.post(f"{BILLING}/invoices/{invoice['id']}/pay", owner, json={}), 409,
                       "invoice-not-payable")
        emit_payment(api.app, tenant.tenant_id, invoice["id"], 0, name="payments.payment.refunded",
                     payment_id="p2", refund_id="r1", amount_refunded=400)
        reopened = api.get(f"{BILLING}/invoices/{invoice['id']}", owner).get_json()
        assert (reopened["status"], reopened["amount_due"]) == ("finalized", 400)


def test_without_a_collector_paying_is_a_409_naming_payments(api: Api, admin: Any) -> None:
    tenant, invoice = invoiced(api, admin, collector_on=False)
    with at("2026-11-02T00:00:00+00:00"):
        resp = api.post(f"{BILLING}/invoices/{invoice['id']}/pay", relogin(api, tenant.owner), json={})
        problem = assert_problem(resp, 409, "payments-not-enabled")
        assert problem["plugin"] == "payments"


def test_resolve_payable_answers_for_open_invoices_only(api: Api, admin: Any) -> None:
    import pytest

    from hookspecs import PluginRefusal

    tenant, invoice = invoiced(api, admin)
    with api.app.app_context(), tenant_scope(tenant.tenant_id):
        ask = tenant_hook("plugboard_resolve_payable")
        answer = ask(tenant_id=tenant.tenant_id, kind="billing.invoice", ref=invoice["id"])
        assert answer == {"amount": 1965, "currency": "EUR", "description": "Invoice INV-000001",
                          "customer_id": None, "receiving_account": "platform"}
        assert ask(tenant_id=tenant.tenant_id, kind="ticketing.order", ref=invoice["id"]) is None
        assert ask(tenant_id=tenant.tenant_id, kind="billing.invoice",
                   ref="00000000-0000-0000-0000-000000000000") is None
    with at("2026-11-02T00:00:00+00:00"):
        admin = relogin(api, admin)
        body = {"amount": 1965, "currency": "EUR", "note": "bank transfer 2026-11-02"}
        resp = api.post(f"{ADMIN}/invoices/{invoice['id']}/payments", admin, json=body)
        assert resp.status_code == 200 and resp.get_json()["status"] == "paid"
    with api.app.app_context(), tenant_scope(tenant.tenant_id), pytest.raises(PluginRefusal):
        tenant_hook("plugboard_resolve_payable")(tenant_id=tenant.tenant_id, kind="billing.invoice",
                                                 ref=invoice["id"])


def test_other_tenants_never_see_an_invoice(api: Api, admin: Any) -> None:
    _, invoice = invoiced(api, admin)
    with at("2026-11-02T00:00:00+00:00"):
        admin = relogin(api, admin)
        other = billed_tenant(api, admin, "globex")
        for path in ("", "/pdf"):
            assert_problem(api.get(f"{BILLING}/invoices/{invoice['id']}{path}", other.owner), 404)
        assert_problem(api.post(f"{BILLING}/invoices/{invoice['id']}/pay", other.owner, json={}), 404)
        assert api.get(f"{BILLING}/invoices", other.owner).get_json() == []
