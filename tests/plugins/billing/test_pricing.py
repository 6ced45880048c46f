"""Pure pricing and money: charge models, aggregations, the rounding rule, babel exponents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plugins.billing import money, pricing


@pytest.mark.parametrize(("quantity", "expected"), [(0, 0), (100, 0), (101, 5 + 1500),
                                                     (1100, 5000 + 1500), (1102, 5000 + 1500 + 2)])
def test_graduated_prices_each_tier_at_its_own_rate(quantity: int, expected: int) -> None:
    charge = {"model": "graduated", "tiers": [{"up_to": 100, "unit_amount": 0},
                                              {"up_to": 1100, "unit_amount": 5, "flat_amount": 1500},
                                              {"up_to": None, "unit_amount": 1}]}
    assert pricing.price(charge, Decimal(quantity)) == expected


def test_package_rounds_packages_up_and_per_unit_rounds_half_up() -> None:
    package = {"model": "package", "package_size": 10, "unit_amount": 100}
    assert [pricing.price(package, Decimal(q)) for q in (0, 1, 10, 11)] == [0, 100, 100, 200]
    per_unit = {"model": "per_unit", "unit_amount": "0.5"}
    assert [pricing.price(per_unit, Decimal(q)) for q in (1, 3, 5)] == [1, 2, 3]  # 0.5, 1.5, 2.5 up
    assert pricing.price(per_unit, Decimal(3), unit_override="0.25") == 1  # 0.75 -> 1


def test_aggregations() -> None:
    rows = [{"gb": 3, "user": "a"}, {"gb": "4.5", "user": "b"}, {"gb": None, "user": "a"}, {}]
    assert pricing.aggregate("count", None, rows) == 4
    assert pricing.aggregate("sum", "gb", rows) == Decimal("7.5")
    assert pricing.aggregate("max", "gb", rows) == Decimal("4.5")
    assert pricing.aggregate("unique_count", "user", rows) == 2


def test_tax_is_rounded_once_half_up_and_exponents_come_from_babel() -> None:
    assert money.tax_of(2703, 1900) == 514  # 513.57
    assert money.tax_of(250, 1000) == 25 and money.tax_of(5, 1000) == 1  # 0.5 -> 1
    assert (money.exponent("EUR"), money.exponent("JPY"), money.exponent("BHD")) == (2, 0, 3)
    assert money.display(1234, "EUR") == "€12.34" and money.display(1234, "JPY") == "¥1,234"
    assert money.is_currency("EUR") and not money.is_currency("EURO") and not money.is_currency("eur")


def test_charge_checks_name_the_missing_field() -> None:
    assert pricing.check_charge({"aggregation": "max", "model": "per_unit", "unit_amount": 1}) == [
        ("property", "aggregation 'max' needs the event property to read")]
    assert [f for f, _ in pricing.check_charge({"aggregation": "count", "model": "package",
                                                "unit_amount": 1})] == ["package_size"]
