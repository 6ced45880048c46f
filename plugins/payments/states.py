"""The payment state machine: one table of allowed changes.

A provider's news may arrive in any order, so a change not in the table is ignored when it
comes from a provider (a late ``processing`` never overwrites ``succeeded``) and answered
409 when a person asks for it. ``failed`` is not final: the payer may retry with another
method. ``expired`` may still become ``succeeded``: when the provider says the money
arrived, that is the truth.
"""

from __future__ import annotations

PENDING, REQUIRES_ACTION, PROCESSING = "pending", "requires_action", "processing"
SUCCEEDED, FAILED, CANCELLED, EXPIRED = "succeeded", "failed", "cancelled", "expired"
PARTIALLY_REFUNDED, REFUNDED = "partially_refunded", "refunded"

OPEN = frozenset({PENDING, REQUIRES_ACTION, PROCESSING, FAILED})
PAID = frozenset({SUCCEEDED, PARTIALLY_REFUNDED, REFUNDED})
STATUSES = (PENDING, REQUIRES_ACTION, PROCESSING, SUCCEEDED, FAILED, CANCELLED, EXPIRED,
            PARTIALLY_REFUNDED, REFUNDED)

ALLOWED: dict[str, frozenset[str]] = {
    PENDING: frozenset({REQUIRES_ACTION, PROCESSING, SUCCEEDED, FAILED, CANCELLED, EXPIRED}),
    REQUIRES_ACTION: frozenset({PROCESSING, SUCCEEDED, FAILED, CANCELLED, EXPIRED}),
    PROCESSING: frozenset({SUCCEEDED, FAILED, CANCELLED}),
    FAILED: frozenset({REQUIRES_ACTION, PROCESSING, SUCCEEDED, CANCELLED, EXPIRED}),
    EXPIRED: frozenset({SUCCEEDED}),
    CANCELLED: frozenset(),
    SUCCEEDED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
    PARTIALLY_REFUNDED: frozenset({REFUNDED}),
    REFUNDED: frozenset(),
}


def allowed(current: str, new: str) -> bool:
    return new in ALLOWED.get(current, frozenset())
