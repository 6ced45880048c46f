"""Money: integer minor units of an ISO 4217 currency; exponents come from babel.

Rounding: none is ever needed. Prices are stored in minor units and an order's total is
the sum of its tickets' prices, so every amount is an exact integer.
"""

from __future__ import annotations

from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision, list_currencies


@lru_cache(maxsize=1)
def currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code in currencies()


def exponent(currency: str) -> int:
    """Digits after the decimal point (USD 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(currency))


def display(amount: int, currency: str, locale: str = "en_US") -> str:
    """``1250 USD`` → ``$12.50``, for people (mail, PDF); never parsed back."""
    return str(format_currency(amount / 10 ** exponent(currency), currency, locale=locale))


def as_json(amount: int, currency: str) -> dict[str, object]:
    return {"amount": amount, "currency": currency}
