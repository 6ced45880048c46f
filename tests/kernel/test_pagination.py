"""``kernel.api.paginate``: the page and its total, in one statement where that is exact."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Flask
from flask_smorest.pagination import PaginationParameters

from kernel.data.models import Domain
from kernel.data.session import db
from kernel.tenancy.scope import platform_scope, tenant_scope
from kernel.web.pagination import SMOREST_PAGINATION_METADATA, paginate, pagination_metadata
from tests.helpers import Account, Api


def _tenants_with_domains(api: Api, app: Flask, a_count: int, b_count: int) -> tuple[Account, Account]:
    a, b = api.register(f"pg-a-{uuid.uuid4().hex[:6]}"), api.register(f"pg-b-{uuid.uuid4().hex[:6]}")
    with app.app_context():
        for acct, count in ((a, a_count), (b, b_count)):
            with tenant_scope(acct.tenant_id):
                for i in range(count):
                    db.session.add(Domain(hostname=f"d{i:02}.{acct.tenant_slug}.example"))
                db.session.commit()
    return a, b


@contextmanager
def _selects(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "set_config" not in statement:
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)


def _page(stmt: sa.Select[Any], page: int, page_size: int) -> tuple[list[Any], int | None]:
    params = PaginationParameters(page, page_size)
    items = paginate(stmt, params)
    return items, params.item_count


def test_page_and_total_come_from_one_statement(api: Api, app: Flask) -> None:
    a, _ = _tenants_with_domains(api, app, 7, 4)
    stmt = sa.select(Domain).order_by(Domain.hostname)
    with app.app_context(), tenant_scope(a.tenant_id):
        with _selects(app) as seen:
            items, total = _page(stmt, 1, 5)
        assert len(seen) == 1 and "OVER" in seen[0].upper()
        # the window counts the tenant's rows only: the scope's criterion is applied first
        assert total == 7
        assert [d.hostname for d in items] == [f"d{i:02}.{a.tenant_slug}.example" for i in range(5)]
        assert all(isinstance(d, Domain) for d in items)
        items, total = _page(stmt, 2, 5)
        assert (len(items), total) == (2, 7)


def test_past_the_end_and_empty_lists_still_report_the_total(api: Api, app: Flask) -> None:
    a, b = _tenants_with_domains(api, app, 3, 0)
    stmt = sa.select(Domain.hostname).order_by(Domain.hostname)
    with app.app_context():
        with tenant_scope(a.tenant_id):
            assert _page(stmt, 2, 5) == ([], 3)  # no row to carry the total: counted
            assert _page(stmt, 10**18, 100) == ([], 3)  # an offset no integer column fits
        with tenant_scope(b.tenant_id):
            with _selects(app) as seen:
                assert _page(stmt, 1, 5) == ([], 0)
            assert len(seen) == 1  # an empty first page: the total is 0, nothing to count


def test_statements_the_window_would_miscount_are_counted_apart(api: Api, app: Flask) -> None:
    _tenants_with_domains(api, app, 3, 2)
    with app.app_context(), platform_scope():
        distinct = sa.select(Domain.tenant_id).distinct().order_by(Domain.tenant_id)
        with _selects(app) as seen:
            items, total = _page(distinct, 1, 10)
        assert (len(items), total) == (2, 2)  # a window would say 5: rows before DISTINCT
        assert len(seen) == 2
        grouped = (sa.select(Domain.tenant_id, sa.func.count()).group_by(Domain.tenant_id)
                   .order_by(Domain.tenant_id))
        items, total = _page(grouped, 1, 1)
        assert (len(items), total) == (1, 2)


def test_list_route_header_unchanged(api: Api, app: Flask) -> None:
    a, _ = _tenants_with_domains(api, app, 3, 1)
    resp = api.get("/api/v1/tenant/domains?page=2&page_size=2", a)
    assert resp.status_code == 200, resp.get_json()
    assert len(resp.get_json()) == 1
    assert json.loads(resp.headers["X-Pagination"]) == {
        "total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 2, "previous_page": 1}
    assert resp.headers["X-Pagination"] == (
        '{"total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 2, "previous_page": 1}')


def test_pagination_metadata_is_flask_smorests() -> None:
    for item_count in range(13):
        for page_size in range(1, 5):
            for page in range(1, 8):
                assert (pagination_metadata(page, page_size, item_count)
                        == SMOREST_PAGINATION_METADATA(page, page_size, item_count))


def test_paginated_requests_reuse_their_schemas(api: Api, app: Flask) -> None:
    owner = api.register(f"pg-s-{uuid.uuid4().hex[:6]}")
    built: list[str] = []
    original = ma.Schema.__init__

    def counting_init(self: ma.Schema, *args: Any, **kwargs: Any) -> None:
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    for _ in range(2):  # the first request may build what later ones reuse
        assert api.get("/api/v1/tenant/domains?page=1&page_size=5", owner).status_code == 200
    ma.Schema.__init__ = counting_init  # type: ignore[method-assign]
    try:
        resp = api.get("/api/v1/tenant/domains?page=1&page_size=5", owner)
        assert resp.status_code == 200
        assert "X-Pagination" in resp.headers
        bad = api.get("/api/v1/tenant/domains?page=0", owner)
        assert bad.status_code == 422  # the reused parameters schema still validates
    finally:
        ma.Schema.__init__ = original  # type: ignore[method-assign]
    assert built == []
