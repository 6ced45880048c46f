"""``/api/v1/admin/billing``: the platform operator's side (platform admins only).

The kernel's gate lets only active platform admins in and runs the view in the platform
scope (queries see every tenant). Reports and lists stay there; a view that changes one
tenant's billing opens that tenant's scope first, so its writes, events and jobs are the
tenant's, exactly as when the tenant's own jobs make them.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask_smorest import Blueprint

from kernel.api import (
    audit_describe,
    current_principal,
    db,
    paginate,
    platform_admin_required,
    tenant_scope,
    utcnow,
)
from plugins.billing import jobs, periods
from plugins.billing.api import domain_errors, invoice_body
from plugins.billing.errors import NotFound
from plugins.billing.models import Account, Invoice, Plan
from plugins.billing.schemas import (
    BillingAccountPatchSchema,
    BillingAccountSchema,
    BillingCreditCreateSchema,
    BillingCreditSchema,
    BillingInvoiceFilterSchema,
    BillingInvoiceSchema,
    BillingManualPaymentSchema,
    BillingPeriodQuerySchema,
    BillingPlanSchema,
    BillingRunSchema,
    BillingUsageReportSchema,
    BillingVoidSchema,
)
from plugins.billing.services import collect, dunning, invoices, plans, usage

admin_blp = Blueprint("billing_admin", __name__, url_prefix="/api/v1/admin/billing",
                      description="Billing of tenants (platform admins)")


def _actor() -> str:
    principal = current_principal()
    return principal.actor_id if principal else "admin"


@admin_blp.get("/plans")
@platform_admin_required
@admin_blp.response(200, BillingPlanSchema(many=True))
def plan_list() -> list[Plan]:
    return plans.plans()


@admin_blp.post("/plans")
@platform_admin_required
@admin_blp.arguments(BillingPlanSchema)
@admin_blp.response(201, BillingPlanSchema)
@domain_errors
def plan_create(data: dict[str, Any]) -> Plan:
    """A plan: recurring fees and metered charges (per_unit, graduated, package)."""
    plan = plans.create_plan(data)
    audit_describe("billing.plan.create", "plan", plan.id, code=plan.code)
    db.session.commit()
    return plan


def _account_body(account: Account) -> dict[str, Any]:
    with tenant_scope(account.tenant_id):
        plan = plans.current_plan(account.tenant_id)
    body = {name: getattr(account, name) for name in BillingAccountSchema().fields if name != "plan"}
    return {**body, "plan": plan.code if plan else None}


@admin_blp.get("/accounts")
@platform_admin_required
@admin_blp.response(200, BillingAccountSchema(many=True))
@admin_blp.paginate()
def account_list(pagination_parameters: Any) -> list[dict[str, Any]]:
    query = sa.select(Account).order_by(Account.created_at)
    return [_account_body(a) for a in paginate(query, pagination_parameters)]


def _existing_account(tenant: uuid.UUID) -> Account:
    found = db.session.scalars(sa.select(Account).where(Account.tenant_id == tenant)).one_or_none()
    if found is None:
        raise NotFound(f"Tenant {tenant} has no billing account: enable billing for it first.")
    return found


@admin_blp.get("/accounts/<uuid:tenant>")
@platform_admin_required
@admin_blp.response(200, BillingAccountSchema)
@domain_errors
def account_item(tenant: uuid.UUID) -> dict[str, Any]:
    return _account_body(_existing_account(tenant))


@admin_blp.patch("/accounts/<uuid:tenant>")
@platform_admin_required
@admin_blp.arguments(BillingAccountPatchSchema)
@admin_blp.response(200, BillingAccountSchema)
@domain_errors
def account_update(data: dict[str, Any], tenant: uuid.UUID) -> dict[str, Any]:
    """Terms, contact, tax, ``plan`` (the plan-change rule applies) and ``status``."""
    _existing_account(tenant)
    now = utcnow()
    with tenant_scope(tenant):
        account = plans.update_account(tenant, data, now)
        if "status" in data:
            dunning.set_status(account, data["status"], "admin", now)
        audit_describe("billing.account.update", "billing_account", account.id, tenant_id=tenant,
                       fields=sorted(data))
        db.session.commit()
        return _account_body(account)


@admin_blp.post("/credits")
@platform_admin_required
@admin_blp.arguments(BillingCreditCreateSchema)
@admin_blp.response(201, BillingCreditSchema)
@domain_errors
def credit_create(data: dict[str, Any]) -> Any:
    """Credit a tenant; it is applied to its next invoices in that currency."""
    _existing_account(data["tenant"])
    with tenant_scope(data["tenant"]):
        credit = invoices.issue_credit(data["tenant"], data["amount"], data["currency"], data["reason"],
                                       _actor())
        audit_describe("billing.credit.create", "billing_credit", credit.id, tenant_id=data["tenant"],
                       amount=credit.amount)
        db.session.commit()
        return credit


@admin_blp.get("/invoices")
@platform_admin_required
@admin_blp.arguments(BillingInvoiceFilterSchema, location="query")
@admin_blp.response(200, BillingInvoiceSchema(many=True))
@admin_blp.paginate()
def invoice_list(filters: dict[str, Any], pagination_parameters: Any) -> list[dict[str, Any]]:
    """Every tenant's invoices, newest first (filter by ``status``, ``tenant``)."""
    query = sa.select(Invoice).order_by(Invoice.created_at.desc(), Invoice.id)
    if filters.get("status"):
        query = query.where(Invoice.status == filters["status"])
    if filters.get("tenant"):
        query = query.where(Invoice.tenant_id == filters["tenant"])
    return [invoice_body(i) for i in paginate(query, pagination_parameters)]


def _invoice_tenant(invoice_id: uuid.UUID) -> uuid.UUID:
    return invoices.get(None, invoice_id).tenant_id


@admin_blp.post("/invoices/<uuid:invoice_id>/void")
@platform_admin_required
@admin_blp.arguments(BillingVoidSchema)
@admin_blp.response(200, BillingInvoiceSchema)
@domain_errors
def invoice_void(data: dict[str, Any], invoice_id: uuid.UUID) -> dict[str, Any]:
    """Void it with a reason; credits it used are given back; its number stays used."""
    tenant = _invoice_tenant(invoice_id)
    with tenant_scope(tenant):
        invoice = invoices.void(invoices.get(tenant, invoice_id, lock=True), data["reason"], utcnow())
        dunning.refresh(tenant, utcnow(), paid=True)
        audit_describe("billing.invoice.void", "invoice", invoice_id, tenant_id=tenant, reason=data["reason"])
        db.session.commit()
        return invoice_body(invoice)


@admin_blp.post("/invoices/<uuid:invoice_id>/payments")
@platform_admin_required
@admin_blp.arguments(BillingManualPaymentSchema)
@admin_blp.response(200, BillingInvoiceSchema)
@domain_errors
def invoice_manual_payment(data: dict[str, Any], invoice_id: uuid.UUID) -> dict[str, Any]:
    """Record a bank transfer or cash payment received outside payments."""
    tenant = _invoice_tenant(invoice_id)
    with tenant_scope(tenant):
        invoice = invoices.get(tenant, invoice_id)
        if invoice.status not in collect.OPEN:
            collect.payable(tenant, str(invoice_id))  # raises NotPayable naming the status
        collect.record(tenant, invoice_id, kind="manual", external_id=f"manual:{uuid.uuid4()}",
                       amount=data["amount"], currency=data["currency"], provider="manual",
                       now=utcnow(), note=data["note"])
        audit_describe("billing.invoice.manual_payment", "invoice", invoice_id, tenant_id=tenant,
                       amount=data["amount"])
        db.session.commit()
        return invoice_body(invoices.get(tenant, invoice_id))


@admin_blp.post("/runs")
@platform_admin_required
@admin_blp.arguments(BillingRunSchema)
@admin_blp.response(200, description="{period, invoices: {tenant id: number or null}}")
@domain_errors
def run_period(data: dict[str, Any]) -> dict[str, Any]:
    """Generate and finalise ``period``'s invoices for every account now (idempotent)."""
    tenants = list(db.session.scalars(sa.select(Account.tenant_id)))
    out: dict[str, str | None] = {}
    for tenant in tenants:
        with tenant_scope(tenant):
            out[str(tenant)] = jobs.generate_invoices(tenant, data["period"])
            db.session.commit()
    audit_describe("billing.run", "billing_period", data["period"], tenants=len(tenants))
    db.session.commit()
    return {"period": data["period"], "invoices": out}


@admin_blp.get("/usage")
@platform_admin_required
@admin_blp.arguments(BillingPeriodQuerySchema, location="query")
@admin_blp.response(200, BillingUsageReportSchema(many=True))
def usage_report(query: dict[str, Any]) -> list[dict[str, Any]]:
    """Events per tenant and metric for ``period`` (default: this month)."""
    start = periods.parse(query["period"]) if query.get("period") else periods.month_start(utcnow())
    return usage.report(start, periods.next_month(start), query.get("tenant"), query.get("metric"))
