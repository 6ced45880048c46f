"""Gapless numbers per tenant: in order, isolated, given back on rollback, safe under races."""

from __future__ import annotations

import threading
import uuid

import pytest
from flask import Flask

from kernel.api import next_number
from kernel.data.session import db
from kernel.tenancy.scope import TenantScopeError, tenant_scope
from tests.helpers import Api


def take(app: Flask, tenant: str, name: str = "test.order", commit: bool = True) -> int:
    with app.app_context(), tenant_scope(uuid.UUID(tenant)):
        number = next_number(name)
        if commit:
            db.session.commit()
        else:
            db.session.rollback()
        return number


def test_numbers_count_from_one_per_tenant_and_sequence(app: Flask, api: Api) -> None:
    alpha, bravo = api.register("alpha").tenant_id, api.register("bravo").tenant_id
    assert [take(app, alpha) for _ in range(3)] == [1, 2, 3]
    assert take(app, bravo) == 1  # another tenant's sequence
    assert take(app, alpha, "test.invoice") == 1  # another sequence of the same tenant
    assert take(app, alpha) == 4


def test_a_rolled_back_number_is_given_again(app: Flask, api: Api) -> None:
    alpha = api.register("alpha").tenant_id
    assert take(app, alpha) == 1
    assert take(app, alpha, commit=False) == 2
    assert take(app, alpha) == 2  # never skipped


def test_bad_names_and_missing_scope_are_refused(app: Flask, api: Api) -> None:
    with app.app_context():
        with pytest.raises(TenantScopeError):
            next_number("test.order")
        with tenant_scope(uuid.UUID(api.register("alpha").tenant_id)):
            for bad in ("order", "Test.Order", "test.", "test.order; drop", "t." + "x" * 80):
                with pytest.raises(ValueError, match="sequence name"):
                    next_number(bad)


@pytest.mark.postgres_only
def test_concurrent_takers_get_unique_gapless_numbers(app: Flask, api: Api) -> None:
    alpha = api.register("alpha").tenant_id
    barrier = threading.Barrier(12)
    kept: list[int] = []
    errors: list[BaseException] = []

    def taker(n: int) -> None:
        try:
            barrier.wait()
            number = take(app, alpha, commit=n % 4 != 0)  # every fourth one rolls back
            if n % 4 != 0:
                kept.append(number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=taker, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(kept) == list(range(1, 10))  # 9 kept, no duplicate, no gap
    assert take(app, alpha) == 10
