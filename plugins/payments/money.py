"""Currencies: minor units from Babel (ISO 4217 exponents), never a hand-kept table.

Rounding rule (the one place amounts change form): a provider that wants major units
(Paynow) gets ``Decimal(minor) / 10**exponent`` exactly, and an amount it reports back is
turned into minor units with ROUND_HALF_EVEN, then compared exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from babel.numbers import get_currency_precision, list_currencies


def is_currency(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 code Babel knows (upper case, three letters)."""
    return code in list_currencies()


def exponent(currency: str) -> int:
    """Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for BHD."""
    return int(get_currency_precision(currency))


def to_major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-exponent(currency))


def to_minor(major: Decimal | str | float, currency: str) -> int:
    value = Decimal(str(major)).scaleb(exponent(currency))
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
