"""marshmallow schemas of billing's tenant and admin routes. Request bodies reject unknown fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from plugins.billing import money, periods, pricing

MAX_MINOR = 10**15  # far above any real invoice, far below BIGINT
_minor = validate.Range(min=0, max=MAX_MINOR)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# The codes money.is_currency accepts, listed so the document states them.
_currency = validate.OneOf(sorted(c for c in money.list_currencies() if money.is_currency(c)),
                           error="must be an ISO 4217 currency code, e.g. EUR")


def _parses(value: str) -> None:
    try:
        periods.parse(value)
    except ValueError as exc:
        raise ma.ValidationError(str(exc)) from None


# The Regexp validator is what apispec documents as the field's pattern.
_period = [validate.Regexp(periods.PERIOD_RE, error="period {input!r} must look like 2026-11"), _parses]


def _price(value: Any) -> None:
    try:
        found = money.decimal_amount(value)
    except ValueError as exc:
        raise ma.ValidationError(str(exc)) from None
    if found > MAX_MINOR:
        raise ma.ValidationError("too large")


Price = fields.Raw(validate=_price, metadata={
    "description": "minor units, may be fractional: 2, \"0.05\"", "oneOf": [{"type": "number"},
                                                                            {"type": "string"}]})


class BillingFeeSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    amount = fields.Integer(required=True, validate=_minor, strict=True)
    interval = fields.String(required=True, validate=validate.OneOf(["month", "year"]))


class BillingTierSchema(Strict):
    up_to = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1), strict=True)
    unit_amount = fields.Raw(required=True, validate=_price)
    flat_amount = fields.Integer(load_default=0, validate=_minor, strict=True)


class BillingChargeSchema(Strict):
    metric = fields.String(required=True, validate=validate.Length(min=1, max=100))
    aggregation = fields.String(required=True, validate=validate.OneOf(pricing.AGGREGATIONS))
    property = fields.String(validate=validate.Length(min=1, max=100))
    model = fields.String(required=True, validate=validate.OneOf(pricing.MODELS))
    unit_amount = fields.Raw(validate=_price)
    tiers = fields.List(fields.Nested(BillingTierSchema), validate=validate.Length(max=50))
    package_size = fields.Integer(validate=validate.Range(min=1, max=10**9), strict=True)

    @validates_schema
    def _priceable(self, data: dict[str, Any], **_: Any) -> None:
        errors = pricing.check_charge(data)
        if errors:
            raise ma.ValidationError({name: [message] for name, message in errors})


class BillingPlanSchema(Strict):
    id = fields.UUID(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_.-]{0,63}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    currency = fields.String(required=True, validate=_currency)
    fees = fields.List(fields.Nested(BillingFeeSchema), load_default=list, validate=validate.Length(max=20))
    charges = fields.List(fields.Nested(BillingChargeSchema), load_default=list,
                          validate=validate.Length(max=50))
    created_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _unique_metrics(self, data: dict[str, Any], **_: Any) -> None:
        metrics = [c["metric"] for c in data.get("charges", [])]
        if len(metrics) != len(set(metrics)):
            raise ma.ValidationError({"charges": ["one charge per metric"]})


class BillingAccountSchema(ma.Schema):
    tenant_id = fields.UUID()
    status = fields.String()
    currency = fields.String()
    name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    tax_id = fields.String(allow_none=True)
    tax_rate_bp = fields.Integer(metadata={"description": "basis points: 1900 = 19 %"})
    net_days = fields.Integer()
    grace_days = fields.Integer()
    suspended_at = fields.DateTime(allow_none=True)
    plan = fields.String(allow_none=True)


class BillingAccountPatchSchema(Strict):
    status = fields.String(validate=validate.OneOf(["active", "overdue", "suspended", "closed"]))
    plan = fields.String(validate=validate.Length(min=1, max=64))
    overrides = fields.Dict(metadata={
        "description": "{fees: {name: amount}, charges: {metric: unit_amount}}"})
    name = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(allow_none=True)
    address = fields.String(allow_none=True, validate=validate.Length(max=1000))
    tax_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    tax_rate_bp = fields.Integer(validate=validate.Range(min=0, max=10_000), strict=True)
    net_days = fields.Integer(validate=validate.Range(min=0, max=365), strict=True)
    grace_days = fields.Integer(validate=validate.Range(min=0, max=365), strict=True)

    @validates_schema
    def _overrides(self, data: dict[str, Any], **_: Any) -> None:
        over = data.get("overrides")
        if over is None:
            return
        if set(over) - {"fees", "charges"} or not all(isinstance(v, dict) for v in over.values()):
            raise ma.ValidationError({"overrides": ["only {fees: {...}, charges: {...}}"]})
        for value in [*over.get("fees", {}).values(), *over.get("charges", {}).values()]:
            _price(value)


class BillingSubscriptionSchema(ma.Schema):
    id = fields.UUID()
    plan = fields.Nested(BillingPlanSchema)
    status = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    overrides = fields.Dict()


class BillingLineSchema(ma.Schema):
    position = fields.Integer()
    kind = fields.String()
    description = fields.String()
    metric = fields.String(allow_none=True)
    quantity = fields.String()
    amount = fields.Integer()


class BillingInvoiceSchema(ma.Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    number = fields.String(allow_none=True)
    status = fields.String()
    currency = fields.String()
    period_start = fields.DateTime()
    period_end = fields.DateTime()
    subtotal = fields.Integer()
    credit_applied = fields.Integer()
    tax_rate_bp = fields.Integer()
    tax = fields.Integer()
    total = fields.Integer()
    amount_paid = fields.Integer()
    amount_due = fields.Integer()
    issued_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    voided_at = fields.DateTime(allow_none=True)
    void_reason = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(BillingLineSchema))


class BillingInvoiceFilterSchema(ma.Schema):
    status = fields.String(validate=validate.OneOf(["draft", "finalized", "paid", "void", "uncollectible"]))
    tenant = fields.UUID()


class BillingPaySchema(Strict):
    provider = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    return_url = fields.Url(load_default=None, require_tld=False)


class BillingUsageEventSchema(Strict):
    transaction_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    metric = fields.String(required=True, validate=validate.Length(min=1, max=100))
    timestamp = fields.AwareDateTime(load_default=None, default_timezone=dt.UTC,
                                   metadata={"description": "default: now; without an offset: UTC"})
    properties = fields.Dict(keys=fields.String(validate=validate.Length(max=100)), load_default=dict)


class BillingUsageBatchSchema(Strict):
    """``{"events": [...]}`` (≤ 1,000) or one event's fields at the top level."""

    class Meta:
        unknown = ma.INCLUDE

    events = fields.List(fields.Nested(BillingUsageEventSchema), validate=validate.Length(min=1, max=1000))

    @ma.post_load
    def _one_or_many(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "events" in data:
            extra = set(data) - {"events"}
            if extra:
                raise ma.ValidationError({k: ["unknown field beside events"] for k in extra})
            return {"events": data["events"], "single": False}
        return {"events": [BillingUsageEventSchema().load(data)], "single": True}


class BillingUsageResultSchema(ma.Schema):
    accepted = fields.Integer()
    duplicates = fields.Integer()


class BillingPeriodQuerySchema(ma.Schema):
    period = fields.String(validate=_period, metadata={"description": "2026-11 (default: this month)"})
    metric = fields.String(validate=validate.Length(min=1, max=100))
    tenant = fields.UUID()


class BillingUsageSummarySchema(ma.Schema):
    period = fields.String()
    metrics = fields.Dict(keys=fields.String(), values=fields.Dict())


class BillingUsageReportSchema(ma.Schema):
    tenant_id = fields.UUID()
    metric = fields.String()
    events = fields.Integer()


class BillingOverviewSchema(ma.Schema):
    account = fields.Nested(BillingAccountSchema)
    balance = fields.Dict()
    credit = fields.Dict()
    usage = fields.Nested(BillingUsageSummarySchema)
    estimate = fields.Dict(allow_none=True)


class BillingCreditCreateSchema(Strict):
    tenant = fields.UUID(required=True)
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_MINOR), strict=True)
    currency = fields.String(required=True, validate=_currency)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class BillingCreditSchema(ma.Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    amount = fields.Integer()
    remaining = fields.Integer()
    currency = fields.String()
    reason = fields.String()
    created_at = fields.DateTime()


class BillingVoidSchema(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class BillingManualPaymentSchema(Strict):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_MINOR), strict=True)
    currency = fields.String(required=True, validate=_currency)
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))


class BillingRunSchema(Strict):
    period = fields.String(required=True, validate=_period)
