"""The one table of allowed transitions per entity, and the move that checks it.

An illegal move raises :class:`~plugins.ticketing.errors.IllegalTransition` (409 naming
the current and the requested state).
"""

from __future__ import annotations

from typing import Any

from plugins.ticketing.errors import IllegalTransition

DRAFT, PUBLISHED, CANCELLED = "draft", "published", "cancelled"
PENDING, PAID, EXPIRED, REFUNDED = "pending", "paid", "expired", "refunded"

EVENT = {
    DRAFT: {PUBLISHED, CANCELLED},
    PUBLISHED: {CANCELLED},
    CANCELLED: set(),
}

ORDER = {
    PENDING: {PAID, EXPIRED, CANCELLED},
    # a payment that arrives after expiry is accepted while the capacity is still there
    EXPIRED: {PAID},
    PAID: {CANCELLED, REFUNDED},
    # a paid order cancelled first may still be refunded
    CANCELLED: {REFUNDED},
    REFUNDED: set(),
}

TABLES = {"event": EVENT, "order": ORDER}

#: orders whose tickets get people in
VALID = frozenset({PAID})


def check(entity: str, current: str, requested: str) -> None:
    if requested not in TABLES[entity].get(current, set()):
        raise IllegalTransition(entity, current, requested)


def move(entity: str, row: Any, requested: str) -> None:
    """Set ``row.status`` to ``requested`` if the table allows it from ``row.status``."""
    check(entity, row.status, requested)
    row.status = requested
