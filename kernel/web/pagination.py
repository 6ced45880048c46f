"""Pagination of SQLAlchemy selects for flask-smorest's ``@blp.paginate()`` views."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kernel.data.session import db


def paginate(stmt: sa.Select[Any], params: Any) -> list[Any]:
    """One page of ``stmt``'s rows; sets ``params.item_count`` for the X-Pagination header."""
    params.item_count = db.session.scalar(
        sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    ) or 0
    if params.first_item >= params.item_count:
        # Past the last page: empty, without sending the database an offset it may not fit
        # in its integer type (page=10**20 would be a 500).
        return []
    return list(db.session.scalars(stmt.limit(params.page_size).offset(params.first_item)))
