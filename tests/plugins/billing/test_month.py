"""A month billed end to end with a frozen clock: usage in, the invoice out (lines, PDF,
mail with a payment link), reminders at due +1/+7/+14 each sent once, overdue, a
suspension after the grace days (402 on the tenant's API), a partial and a final payment
through the outbox, reactivation at once."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
import time_machine
from flask import Flask

from kernel.api import db, platform_scope
from kernel.runtime.events import OutboxEvent
from plugins.billing.models import Invoice
from tests.helpers import Api, MailBox, assert_problem
from tests.plugins.billing.conftest import (
    ADMIN,
    BILLING,
    billed_tenant,
    create_plan,
    drain,
    emit_payment,
    relogin,
    run_job,
)

UTC = dt.UTC
PLAN = {"charges": [{"metric": "api_calls", "aggregation": "count", "model": "per_unit",
                     "unit_amount": "0.5"},
                    {"metric": "storage", "aggregation": "max", "property": "gb", "model": "package",
                     "package_size": 10, "unit_amount": 100}]}


def at(day: str, time: str = "00:00:05") -> Any:
    return time_machine.travel(dt.datetime.fromisoformat(f"{day}T{time}+00:00"), tick=False)


def cron(app: Flask, job: str, tenant: uuid.UUID, when: dt.datetime) -> str:
    """What the kernel's cron fan-out runs: the job with its (job, tenant, period) key."""
    return run_job(app, job, tenant, key=f"cron:{job}:{tenant}:{when:%Y%m%dT%H%M}")


def outbox(app: Flask) -> list[str]:
    with app.app_context(), platform_scope():
        rows = db.session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.created_at))
        return [e.name for e in rows if e.name.startswith("billing.")]


def test_a_month_billed_end_to_end(api: Api, admin: Any, mailbox: MailBox) -> None:
    app = api.app
    with at("2026-11-01", "00:00:00"):
        admin = relogin(api, admin)
        create_plan(api, admin, **PLAN)
        tenant = billed_tenant(api, admin, "acme", tax_rate_bp=1900, net_days=14, grace_days=14)
        key = tenant.key(api)
    events = [{"transaction_id": f"c{n}", "metric": "api_calls", "timestamp": f"2026-11-0{n + 1}T10:00:00Z"}
              for n in range(3)]
    events += [{"transaction_id": f"s{n}", "metric": "storage", "properties": {"gb": gb},
                "timestamp": "2026-11-02T10:00:00Z"} for n, gb in enumerate([4, 23, 11])]
    with at("2026-11-05"):
        assert api.post(f"{BILLING}/usage/events", headers=key, json={"events": events}).status_code == 200
    with at("2026-11-20"):
        more = [{"transaction_id": "c3", "metric": "api_calls"},
                {"transaction_id": "c4", "metric": "api_calls"},
                {"transaction_id": "c0", "metric": "api_calls"}]  # c0: a retry, not counted again
        assert api.post(f"{BILLING}/usage/events", headers=key, json={"events": more}).get_json() == {
            "accepted": 3, "duplicates": 1}
        admin = relogin(api, admin)
        resp = api.post(f"{ADMIN}/credits", admin, json={"tenant": str(tenant.tenant_id), "amount": 500,
                                                          "currency": "EUR", "reason": "Goodwill"})
        assert resp.status_code == 201, resp.get_json()

    with at("2026-12-01"):
        first = cron(app, "billing.generate_invoices", tenant.tenant_id, dt.datetime(2026, 12, 1, tzinfo=UTC))
        again = run_job(app, "billing.generate_invoices", tenant.tenant_id, period="2026-11")
        assert (first, again) == ("succeeded", "succeeded")  # the second finds the first's invoice
        drain(app)
        owner = relogin(api, tenant.owner)
        invoices = api.get(f"{BILLING}/invoices", owner).get_json()
    assert len(invoices) == 1
    invoice = invoices[0]
    # 5 calls x 0.5 = 2.5 -> 3 (half up); storage max 23 GB -> 3 packages x 100; 2900 fee
    assert [(line["kind"], line["quantity"], line["amount"]) for line in invoice["lines"]] == [
        ("fee", "1", 2900), ("usage", "5", 3), ("usage", "23", 300), ("credit", "1", -500), ("tax", "1", 514)]
    # tax: 19 % of the net (3203 - 500 = 2703) is 513.57 -> 514, once per invoice
    assert (invoice["subtotal"], invoice["credit_applied"], invoice["tax"], invoice["total"]) == (
        3203, 500, 514, 3217)
    assert invoice["number"] == "INV-000001" and invoice["status"] == "finalized"
    assert invoice["due_at"].startswith("2026-12-15")
    mails = mailbox.to("billing@acme.example.com")
    assert len(mails) == 1 and "INV-000001" in mails[0]["Subject"]
    body = next(p for p in mails[0].walk() if p.get_content_type() == "text/plain").get_payload(
        decode=True).decode()
    assert f"https://pay.example/l/tok_{invoice['id']}" in body
    with at("2026-12-01"):
        pdf = api.get(f"{BILLING}/invoices/{invoice['id']}/pdf", relogin(api, tenant.owner))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")

    statuses = _dunning_days(api, tenant.tenant_id, "2026-12-02", "2026-12-31")
    assert statuses["2026-12-15"] == "active" and statuses["2026-12-16"] == "overdue"
    assert statuses["2026-12-29"] == "overdue" and statuses["2026-12-30"] == "suspended"
    reminders = [m["Subject"] for m in mailbox.to("billing@acme.example.com") if "Reminder" in m["Subject"]]
    assert reminders == ["Reminder: invoice INV-000001 is 1 day(s) overdue",
                         "Reminder: invoice INV-000001 is 7 day(s) overdue",
                         "Reminder: invoice INV-000001 is 14 day(s) overdue"]

    with at("2026-12-31", "10:00:00"):
        owner = relogin(api, tenant.owner)
        usage = {"transaction_id": "d1", "metric": "api_calls"}
        assert_problem(api.post(f"{BILLING}/usage/events", headers=key, json=usage), 402, "billing-suspended")
        assert_problem(api.get("/api/v1/customers", owner), 402, "billing-suspended")
        assert api.get(BILLING, owner).get_json()["account"]["status"] == "suspended"
        assert api.get("/api/v1/tenant", owner).status_code == 200
        started = api.post(f"{BILLING}/invoices/{invoice['id']}/pay", owner, json={})
        assert started.status_code == 201, started.get_json()
        assert started.get_json()["amount"] == invoice["total"]
        emit_payment(app, tenant.tenant_id, invoice["id"], 1000)  # partial: still suspended
        assert_problem(api.get("/api/v1/customers", owner), 402, "billing-suspended")
        emit_payment(app, tenant.tenant_id, invoice["id"], invoice["total"] - 1000)
        assert api.get("/api/v1/customers", owner).status_code == 200  # at once
        assert api.post(f"{BILLING}/usage/events", headers=key, json=usage).status_code == 200
        paid = api.get(f"{BILLING}/invoices/{invoice['id']}", owner).get_json()
    assert (paid["status"], paid["amount_paid"], paid["amount_due"]) == ("paid", invoice["total"], 0)
    announced = outbox(app)  # paid and reactivated share a transaction (and a frozen instant)
    assert announced[:2] == ["billing.invoice.issued", "billing.account.suspended"]
    assert sorted(announced[2:]) == ["billing.account.reactivated", "billing.invoice.paid"]
    _dunning_days(api, tenant.tenant_id, "2027-01-05", "2027-01-06")
    assert len([m for m in mailbox.to("billing@acme.example.com") if "Reminder" in m["Subject"]]) == 3


def _dunning_days(api: Api, tenant: uuid.UUID, first: str, last: str) -> dict[str, str]:
    """Run the daily jobs as cron would, day by day; the account's status after each day."""
    statuses: dict[str, str] = {}
    day = dt.date.fromisoformat(first)
    while day <= dt.date.fromisoformat(last):
        for job, time in (("billing.update_status", "00:30:00"), ("billing.send_reminders", "09:00:00")):
            with at(day.isoformat(), time):
                when = dt.datetime.fromisoformat(f"{day.isoformat()}T{time}+00:00")
                cron(api.app, job, tenant, when)
                cron(api.app, job, tenant, when)  # a double fire changes nothing
                drain(api.app)
        with api.app.app_context(), platform_scope():
            from plugins.billing.models import Account

            statuses[day.isoformat()] = db.session.scalar(
                sa.select(Account.status).where(Account.tenant_id == tenant))
        day += dt.timedelta(days=1)
    return statuses


def test_the_generation_job_twice_makes_one_invoice_per_tenant(api: Api, admin: Any) -> None:
    with at("2026-10-20"):
        admin = relogin(api, admin)
        create_plan(api, admin)
        tenants = [billed_tenant(api, admin, f"t{n}") for n in range(3)]
    with at("2026-11-01"):
        for _ in range(2):
            for tenant in tenants:
                run_job(api.app, "billing.generate_invoices", tenant.tenant_id)  # no key: runs again
        admin = relogin(api, admin)
        resp = api.post(f"{ADMIN}/runs", admin, json={"period": "2026-10"})
        assert resp.status_code == 200
    with api.app.app_context(), platform_scope():
        rows = db.session.execute(sa.select(Invoice.tenant_id, Invoice.number)).all()
    assert sorted(t for t, _ in rows) == sorted(t.tenant_id for t in tenants)
    assert sorted(n for _, n in rows) == ["INV-000001", "INV-000002", "INV-000003"]
