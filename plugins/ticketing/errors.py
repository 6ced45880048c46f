"""The ticketing domain's failures. Each names its HTTP status and problem type once;
:func:`plugins.ticketing.web.domain_errors` is the one place that turns them into
``application/problem+json``. No Flask in here: services raise these."""

from __future__ import annotations

from typing import Any


class TicketingError(Exception):
    """Base class: ``status``, ``type_`` (problem type slug) and ``title`` per subclass."""

    status = 400
    type_ = "ticketing-error"
    title = "Ticketing error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(TicketingError):
    status, type_, title = 404, "not-found", "Not found"


class Invalid(TicketingError):
    """Input that passed the schema but not the domain's rules (e.g. a type of another event)."""

    status, type_, title = 422, "validation-error", "Validation failed"

    def __init__(self, detail: str, field: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.field = field


class SlugTaken(TicketingError):
    status, type_, title = 409, "event-slug-taken", "Slug already used"


class IllegalTransition(TicketingError):
    """A state change the entity's transition table does not allow."""

    status, type_, title = 409, "illegal-transition", "Not allowed in this state"

    def __init__(self, entity: str, current: str, requested: str) -> None:
        super().__init__(f"The {entity} is {current}; it cannot become {requested}.",
                         current=current, requested=requested)


class SoldOut(TicketingError):
    status, type_, title = 409, "sold-out", "Sold out"


class SalesClosed(TicketingError):
    status, type_, title = 409, "sales-closed", "Sales closed"


class EventNotOnSale(TicketingError):
    status, type_, title = 409, "event-not-on-sale", "Event not on sale"


class InUse(TicketingError):
    status, type_, title = 409, "in-use", "Still in use"


class PaymentsNotEnabled(TicketingError):
    status, type_, title = 409, "payments-not-enabled", "Payments not enabled"


class PaymentRefused(TicketingError):
    """The payments plugin refused to start or refund (its reason is the detail)."""

    status, type_, title = 409, "payment-refused", "Payment refused"

    def __init__(self, detail: str, status: int = 409, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status = status


class BadSecret(TicketingError):
    """An order code with a wrong or missing secret: answered like an unknown order."""

    status, type_, title = 404, "not-found", "Not found"
