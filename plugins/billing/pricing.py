"""Pure pricing: aggregate a metric's events into a quantity, and price a quantity.

Charge models (API.md): ``per_unit`` (quantity x ``unit_amount``), ``graduated`` (each
tier's units at that tier's price, plus its optional ``flat_amount``) and ``package``
(``ceil(quantity / package_size)`` packages at ``unit_amount`` each). Prices are minor
units and may be fractional; the result is rounded once (see :mod:`.money`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

from plugins.billing.money import decimal_amount, round_minor

AGGREGATIONS = ("count", "sum", "max", "unique_count")
MODELS = ("per_unit", "graduated", "package")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return decimal_amount(value) if not (isinstance(value, int | float) and value < 0) else Decimal(value)
    except ValueError:
        return None


def aggregate(aggregation: str, prop: str | None, rows: Iterable[Mapping[str, Any]]) -> Decimal:
    """The quantity of ``rows`` (event properties): count, sum, max or unique count of ``prop``.

    Events missing ``prop`` (or with a non-number for sum/max) do not count.
    """
    if aggregation == "count":
        return Decimal(sum(1 for _ in rows))
    values = [r.get(prop or "") for r in rows]
    if aggregation == "unique_count":
        return Decimal(len({repr(v) for v in values if v is not None}))
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    if aggregation == "sum":
        return sum(numbers, Decimal(0))
    return max(numbers, default=Decimal(0))


def price(charge: Mapping[str, Any], quantity: Decimal, unit_override: Any = None) -> int:
    """The amount of ``quantity`` under ``charge``, rounded to a whole minor unit."""
    model = charge["model"]
    if model == "per_unit":
        unit = decimal_amount(unit_override if unit_override is not None else charge["unit_amount"])
        return round_minor(quantity * unit)
    if model == "package":
        unit = decimal_amount(unit_override if unit_override is not None else charge["unit_amount"])
        size = int(charge["package_size"])
        packages = (quantity / size).to_integral_value(rounding=ROUND_CEILING)
        return round_minor(packages * unit)
    return round_minor(_graduated(charge["tiers"], quantity))


def _graduated(tiers: list[Mapping[str, Any]], quantity: Decimal) -> Decimal:
    total = Decimal(0)
    lower = Decimal(0)
    for tier in tiers:
        upper = tier.get("up_to")
        top = quantity if upper is None else min(quantity, Decimal(upper))
        if top <= lower:
            break
        total += (top - lower) * decimal_amount(tier["unit_amount"])
        total += decimal_amount(tier.get("flat_amount", 0))
        if upper is None:
            break
        lower = Decimal(upper)
    return total


def check_charge(charge: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems of one charge as ``(field, message)``; empty when it can be priced."""
    errors: list[tuple[str, str]] = []
    aggregation, model = charge.get("aggregation"), charge.get("model")
    if aggregation != "count" and not charge.get("property"):
        errors.append(("property", f"aggregation {aggregation!r} needs the event property to read"))
    if model in ("per_unit", "package") and charge.get("unit_amount") is None:
        errors.append(("unit_amount", f"model {model!r} needs unit_amount"))
    if model == "package" and not charge.get("package_size"):
        errors.append(("package_size", "model 'package' needs package_size ≥ 1"))
    if model == "graduated":
        errors += _check_tiers(charge.get("tiers") or [])
    return errors


def _check_tiers(tiers: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
    if not tiers:
        return [("tiers", "model 'graduated' needs tiers")]
    bounds = [t.get("up_to") for t in tiers]
    if bounds[-1] is not None or None in bounds[:-1]:
        return [("tiers", "every tier but the last needs up_to; the last has none")]
    inner = bounds[:-1]
    if any(b <= a for a, b in itertools.pairwise(inner)):
        return [("tiers", "up_to must rise from tier to tier")]
    return []
