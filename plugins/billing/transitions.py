"""The allowed state transitions of billing's entities: one table each.

Anything not listed is refused with :class:`~.errors.IllegalTransition` (409 naming the
current and the requested state).
"""

from __future__ import annotations

from plugins.billing.errors import IllegalTransition

ACCOUNT: dict[str, frozenset[str]] = {
    "active": frozenset({"overdue", "suspended", "closed"}),
    "overdue": frozenset({"active", "suspended", "closed"}),
    "suspended": frozenset({"active", "overdue", "closed"}),
    "closed": frozenset({"active"}),
}

INVOICE: dict[str, frozenset[str]] = {
    "draft": frozenset({"finalized", "void"}),
    "finalized": frozenset({"paid", "void", "uncollectible"}),
    "uncollectible": frozenset({"paid", "void"}),
    # a refund re-opens a paid invoice
    "paid": frozenset({"finalized"}),
    "void": frozenset(),
}

SUBSCRIPTION: dict[str, frozenset[str]] = {
    "active": frozenset({"ended"}),
    "ended": frozenset(),
}

TABLES = {"account": ACCOUNT, "invoice": INVOICE, "subscription": SUBSCRIPTION}


def check(entity: str, current: str, requested: str) -> None:
    """Raise unless ``entity`` may go from ``current`` to ``requested``."""
    if requested not in TABLES[entity].get(current, frozenset()):
        raise IllegalTransition(entity, current, requested)
