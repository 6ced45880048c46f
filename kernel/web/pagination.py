"""Pagination of SQLAlchemy selects for flask-smorest's ``@blp.paginate()`` views.

A page and the total it belongs to come from one statement where that is exact: the
total rides on every row as ``count(*) OVER ()``, so a list costs one round trip rather
than two (count, then rows). Where the window would count something else (``DISTINCT``,
``GROUP BY``, set operations, a limit of the caller's) or PostgreSQL refuses it
(``FOR UPDATE``), and for a page past the end (no row to carry the total), the total is
counted separately as before.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

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
