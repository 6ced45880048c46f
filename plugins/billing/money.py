"""Money for billing: integer minor units, ISO 4217 codes, one rounding rule.

A currency's exponent (2 for EUR, 0 for JPY, 3 for BHD) comes from babel's CLDR data,
never from a table kept here. Prices may be fractions of a minor unit (a metered call
at 0.05 cents is ``"0.05"``); such amounts are :class:`~decimal.Decimal` until a line
is rounded.

**The rounding rule** (docs/billing.md): each invoice line is rounded once, to a whole
minor unit, half away from zero (``ROUND_HALF_UP``); tax is computed once per invoice on
the net total (lines minus credits applied) and rounded the same way. Sums of rounded
lines are exact integers, so totals never drift.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision, list_currencies

BASIS_POINTS = Decimal(10_000)


def is_currency(code: str) -> bool:
    """True for an ISO 4217 code babel knows (upper case)."""
    return code.isupper() and code in list_currencies()


def exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency``'s minor unit."""
    return int(get_currency_precision(currency))


def round_minor(value: Decimal) -> int:
    """``value`` (minor units, possibly fractional) to a whole minor unit, half up."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def decimal_amount(value: object) -> Decimal:
    """A price as given in a plan (int, float text or Decimal) as a Decimal; ValueError if not."""
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not found.is_finite() or found < 0:
        raise ValueError(f"{value!r} must be a finite number ≥ 0")
    return found


def tax_of(net: int, rate_bp: int) -> int:
    """Tax on ``net`` minor units at ``rate_bp`` basis points, rounded half up."""
    return round_minor(Decimal(net) * Decimal(rate_bp) / BASIS_POINTS)


def prorate(amount: int, part: Decimal) -> int:
    """``amount`` times ``part`` (0..1), rounded half up."""
    return round_minor(Decimal(amount) * part)


def display(amount: int, currency: str, locale: str = "en_US") -> str:
    """``1234`` EUR as ``€12.34`` (for PDFs and mails; never parsed back)."""
    major = Decimal(amount).scaleb(-exponent(currency))
    return str(format_currency(major, currency, locale=locale))
