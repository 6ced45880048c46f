"""Pagination of SQLAlchemy selects for flask-smorest's ``@blp.paginate()`` views.

A page and the total it belongs to come from one statement where that is exact: the
total rides on every row as ``count(*) OVER ()``, so a list costs one round trip rather
than two (count, then rows). Where the window would count something else (``DISTINCT``,
``GROUP BY``, set operations, a limit of the caller's) or PostgreSQL refuses it
(``FOR UPDATE``), and for a page past the end (no row to carry the total), the total is
counted separately as before.

flask-smorest builds two marshmallow schemas for every paginated request (the query
parameters' and the ``X-Pagination`` metadata's), deep-copying their fields each time;
:func:`reuse_pagination_schemas` (run on import, like :mod:`kernel.web.json_limits`'
loaders) makes every blueprint reuse one instance of each instead, through the two
extension points flask-smorest documents for it. The header stays byte for byte the same.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Request
from flask_smorest.pagination import PaginationMetadataSchema, PaginationMixin
from webargs.flaskparser import FlaskParser

from kernel.data.session import db

# Offsets beyond this go the counting way: never send the database an offset it may not
# fit in its integer type (page=10**20 would be a 500).
MAX_FOLDED_OFFSET = 2**31 - 1
_TOTAL = "plugboard_total"


def paginate(stmt: sa.Select[Any], params: Any) -> list[Any]:
    """One page of ``stmt``'s rows; sets ``params.item_count`` for the X-Pagination header.

    The rows are the first column of each result row (an entity, or a column), as
    ``session.scalars`` gives them.
    """
    if _total_foldable(stmt) and params.first_item <= MAX_FOLDED_OFFSET:
        rows = db.session.execute(
            stmt.add_columns(sa.func.count().over().label(_TOTAL))
            .limit(params.page_size).offset(params.first_item)
        ).all()
        if rows:
            params.item_count = rows[0][-1]
            return [row[0] for row in rows]
        if params.first_item == 0:
            params.item_count = 0
            return []
    return _count_then_page(stmt, params)


def _total_foldable(stmt: Any) -> bool:
    """Whether ``count(*) OVER ()`` on ``stmt``'s rows is the number of rows it selects."""
    return (isinstance(stmt, sa.Select) and not stmt._distinct and not stmt._distinct_on
            and not stmt._group_by_clauses and stmt._having_criteria == ()
            and stmt._limit_clause is None and stmt._offset_clause is None
            and stmt._fetch_clause is None and stmt._for_update_arg is None)


def _count_then_page(stmt: sa.Select[Any], params: Any) -> list[Any]:
    params.item_count = db.session.scalar(
        sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    ) or 0
    if params.first_item >= params.item_count:
        # Past the last page: empty, without sending the database an offset it may not fit
        # in its integer type (page=10**20 would be a 500).
        return []
    return list(db.session.scalars(stmt.limit(params.page_size).offset(params.first_item)))


class ReusingParser(FlaskParser):
    """webargs' Flask parser, keeping one instance of each schema class it is given.

    flask-smorest's ``paginate`` hands the parser its parameters schema as a class, which
    webargs instantiates on every request. Loading does not change a schema, so one
    instance per class serves every request and thread. Location loaders are webargs'
    class-level registry, so :mod:`kernel.web.json_limits`' rules apply here too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._instances: dict[type[ma.Schema], ma.Schema] = {}

    def _get_schema(self, argmap: Any, req: Request) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._instances.get(argmap)
            if schema is None:
                schema = self._instances.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)


_METADATA_SCHEMA = PaginationMetadataSchema()
# flask-smorest's own, kept for the test that the two agree
SMOREST_PAGINATION_METADATA = PaginationMixin.__dict__["_make_pagination_metadata"].__func__


def pagination_metadata(page: int, page_size: int, item_count: int) -> dict[str, Any]:
    """flask-smorest's ``_make_pagination_metadata``, dumped by one reused schema instance."""
    meta: dict[str, int] = {"total": item_count}
    if item_count == 0:
        meta["total_pages"] = 0
    else:
        last_page = (item_count - 1) // page_size + 1
        meta.update(total_pages=last_page, first_page=1, last_page=last_page)
        if page <= last_page:
            meta["page"] = page
            if page > 1:
                meta["previous_page"] = page - 1
            if page < last_page:
                meta["next_page"] = page + 1
    dumped: dict[str, Any] = _METADATA_SCHEMA.dump(meta)
    return dumped


def reuse_pagination_schemas() -> None:
    """Make every flask-smorest blueprint paginate with reused schema instances."""
    parser = ReusingParser()
    original = PaginationMixin.PAGINATION_ARGUMENTS_PARSER
    parser.DEFAULT_VALIDATION_STATUS = original.DEFAULT_VALIDATION_STATUS
    PaginationMixin.PAGINATION_ARGUMENTS_PARSER = parser
    PaginationMixin._make_pagination_metadata = staticmethod(pagination_metadata)


reuse_pagination_schemas()
