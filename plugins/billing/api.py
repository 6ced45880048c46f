"""``/api/v1/billing``: what a tenant sees of its own billing, and where it sends usage.

The kernel's gate has authenticated the caller, opened the tenant's scope and checked
that billing is enabled; the request guard leaves these routes open to a suspended
tenant (so it can pay), except usage ingestion. Views check a permission and leave the
work to :mod:`.services`; :func:`domain_errors` maps their failures to problems.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import Response
from flask_smorest import Blueprint

from kernel.api import audit_describe, auth_required, current_tenant_id, db, paginate, storage, utcnow
from plugins.billing import guard, jobs, periods
from plugins.billing.errors import BillingError, NotFound, Suspended, to_problem
from plugins.billing.models import Invoice
from plugins.billing.schemas import (
    BillingAccountSchema,
    BillingInvoiceFilterSchema,
    BillingInvoiceSchema,
    BillingOverviewSchema,
    BillingPaySchema,
    BillingPeriodQuerySchema,
    BillingSubscriptionSchema,
    BillingUsageBatchSchema,
    BillingUsageResultSchema,
    BillingUsageSummarySchema,
)
from plugins.billing.services import collect, dunning, invoices, plans, usage

F = TypeVar("F", bound=Callable[..., Any])

blp = Blueprint("billing", __name__, url_prefix="/api/v1/billing",
                description="The platform's billing of this tenant: invoices, usage, paying")


def domain_errors(view: F) -> F:
    """Turn :mod:`.errors` failures into problem responses (the one mapping)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except BillingError as exc:
            db.session.rollback()
            to_problem(exc)

    return cast(F, wrapper)


def invoice_body(invoice: Invoice) -> dict[str, Any]:
    """An invoice as the API shows it, with its lines and what is still due."""
    body = {name: getattr(invoice, name) for name in BillingInvoiceSchema().fields
            if name not in ("lines", "amount_due")}
    return {**body, "amount_due": collect.amount_due(invoice), "lines": invoices.lines(invoice)}


def _summary(tenant_id: uuid.UUID, period: str | None, metric: str | None = None) -> dict[str, Any]:
    start = periods.parse(period) if period else periods.month_start(utcnow())
    end = periods.next_month(start)
    counts = usage.counts(tenant_id, start, end, metric)
    plan = plans.current_plan(tenant_id, start) or plans.current_plan(tenant_id)
    metrics: dict[str, dict[str, Any]] = {m: {"events": n} for m, n in counts.items()}
    for charge in plan.charges if plan else []:
        if metric and charge["metric"] != metric:
            continue
        qty = usage.quantity(tenant_id, charge, start, end)
        metrics.setdefault(charge["metric"], {"events": 0})["quantity"] = format(qty, "f")
        metrics[charge["metric"]]["aggregation"] = charge["aggregation"]
    return {"period": periods.label(start), "metrics": metrics}


@blp.get("")
@auth_required("billing.read")
@blp.response(200, BillingOverviewSchema)
@domain_errors
def overview() -> dict[str, Any]:
    """Account status, balance, credit, this month's usage and the next invoice's estimate."""
    tenant_id = current_tenant_id()
    found = dunning.overview(tenant_id)
    account = found["account"]
    plan = plans.current_plan(tenant_id)
    db.session.commit()  # the account may have just been created
    return {"account": {**_account(account), "plan": plan.code if plan else None},
            "balance": {"amount": found["balance"], "currency": account.currency},
            "credit": {"amount": invoices.credit_balance(tenant_id, account.currency),
                       "currency": account.currency},
            "usage": _summary(tenant_id, None),
            "estimate": invoices.estimate(tenant_id, periods.month_start(utcnow()))}


def _account(account: Any) -> dict[str, Any]:
    return {name: getattr(account, name) for name in BillingAccountSchema().fields if name != "plan"}


@blp.get("/services")
@auth_required("billing.read")
@blp.response(200, BillingSubscriptionSchema(many=True))
def services_list() -> list[dict[str, Any]]:
    """The tenant's subscribed services (plans), past, current and pending."""
    tenant_id = current_tenant_id()
    by_id = {p.id: p for p in plans.plans()}
    return [{"id": s.id, "plan": by_id[s.plan_id], "status": s.status, "starts_at": s.starts_at,
             "ends_at": s.ends_at, "overrides": s.overrides} for s in plans.subscriptions(tenant_id)]


@blp.get("/invoices")
@auth_required("billing.read")
@blp.arguments(BillingInvoiceFilterSchema, location="query")
@blp.response(200, BillingInvoiceSchema(many=True))
@blp.paginate()
def invoice_list(filters: dict[str, Any], pagination_parameters: Any) -> list[dict[str, Any]]:
    """The tenant's invoices, newest period first (drafts are not shown)."""
    query = sa.select(Invoice).where(Invoice.status != "draft").order_by(Invoice.period_start.desc())
    if filters.get("status"):
        query = query.where(Invoice.status == filters["status"])
    return [invoice_body(i) for i in paginate(query, pagination_parameters)]


def _visible(invoice_id: uuid.UUID) -> Invoice:
    invoice = invoices.get(current_tenant_id(), invoice_id)
    if invoice.status == "draft":
        raise NotFound(f"No invoice {invoice_id}.")
    return invoice


@blp.get("/invoices/<uuid:invoice_id>")
@auth_required("billing.read")
@blp.response(200, BillingInvoiceSchema)
@domain_errors
def invoice_item(invoice_id: uuid.UUID) -> dict[str, Any]:
    return invoice_body(_visible(invoice_id))


@blp.get("/invoices/<uuid:invoice_id>/pdf")
@auth_required("billing.read")
@blp.response(200, description="application/pdf")
@domain_errors
def invoice_pdf(invoice_id: uuid.UUID) -> Response:
    """The invoice as a PDF (rendered and stored on first request if the job has not yet)."""
    invoice = _visible(invoice_id)
    try:
        data = storage().get(invoice.pdf_key).data if invoice.pdf_key else None
    except KeyError:
        data = None
    if data is None:
        data = jobs.store_pdf(invoice)
        db.session.commit()
    name = f"{invoice.number}.pdf"
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@blp.post("/invoices/<uuid:invoice_id>/pay")
@auth_required("billing.pay")
@blp.arguments(BillingPaySchema)
@blp.response(201, description="the payment started: {payment_id, status, amount, currency, ...}")
@blp.alt_response(409, description="Nothing to pay, or no payments plugin enabled")
@domain_errors
def pay(data: dict[str, Any], invoice_id: uuid.UUID) -> Any:
    """Start paying the invoice through the payments plugin (receiving account: platform)."""
    _visible(invoice_id)
    answer = collect.start_payment(current_tenant_id(), invoice_id, data["provider"], data["return_url"])
    audit_describe("billing.invoice.pay", "invoice", invoice_id, payment=str(answer.get("payment_id")))
    db.session.commit()
    return dict(answer), 201


@blp.post("/usage/events")
@auth_required("billing.usage")
@blp.arguments(BillingUsageBatchSchema)
@blp.response(200, BillingUsageResultSchema)
@blp.alt_response(402, description="The account is suspended")
@domain_errors
def usage_events(data: dict[str, Any]) -> dict[str, int]:
    """Record one usage event or ``{events: [...]}`` (≤ 1,000); a repeated transaction_id
    is accepted and not counted twice. API keys (``pbk_…``) welcome."""
    tenant_id = current_tenant_id()
    if guard.is_suspended(tenant_id):
        raise Suspended("The account is suspended for non-payment: usage is not recorded.")
    result = usage.ingest(tenant_id, data["events"], utcnow(), "" if data["single"] else "/events")
    db.session.commit()
    return result


@blp.get("/usage/summary")
@auth_required("billing.read")
@blp.arguments(BillingPeriodQuerySchema, location="query")
@blp.response(200, BillingUsageSummarySchema)
def usage_summary(query: dict[str, Any]) -> dict[str, Any]:
    """Events and billed quantity per metric for ``period`` (default: this month)."""
    return _summary(current_tenant_id(), query.get("period"), query.get("metric"))

