"""Billing's domain errors and the one table that maps them to problem+json.

Services raise these (they know nothing of HTTP); :func:`to_problem` is the single place
that turns one into a status, a problem type and a title.
"""

from __future__ import annotations

from typing import Any, NoReturn

from kernel.api import problem


class BillingError(Exception):
    """Base of billing's expected failures; ``extra`` goes into the problem body."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(BillingError):
    """No such plan, account, invoice (in the scope that asked)."""


class Conflict(BillingError):
    """Already exists (a plan code), or currencies that do not match."""


class IllegalTransition(BillingError):
    """A state change the entity's transition table does not allow."""

    def __init__(self, entity: str, current: str, requested: str) -> None:
        super().__init__(f"A {entity} that is {current!r} cannot become {requested!r}.",
                         current=current, requested=requested)


class InvalidUsage(BillingError):
    """Usage events refused: ``errors`` lists ``(pointer, message)``."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(f"{len(errors)} usage event field(s) refused; nothing was recorded.")
        self.errors = errors


class Suspended(BillingError):
    """The account is suspended for non-payment."""


class PaymentsUnavailable(BillingError):
    """No enabled plugin collects billing invoices (payments is off)."""


class NotPayable(BillingError):
    """The invoice is draft, paid or void: nothing to pay."""


PROBLEMS: dict[type[BillingError], tuple[int, str, str]] = {
    NotFound: (404, "billing-not-found", "Not found"),
    Conflict: (409, "billing-conflict", "Conflict"),
    IllegalTransition: (409, "illegal-transition", "Illegal state transition"),
    Suspended: (402, "billing-suspended", "Account suspended"),
    PaymentsUnavailable: (409, "payments-not-enabled", "Payments not enabled"),
    NotPayable: (409, "invoice-not-payable", "Invoice not payable"),
}


def to_problem(exc: BillingError) -> NoReturn:
    """Raise the problem response of ``exc``."""
    if isinstance(exc, InvalidUsage):
        problem(422, "validation-error", title="Validation failed", detail=exc.detail,
                errors=[{"field": p.strip("/").replace("/", "."), "pointer": p, "location": "json",
                         "message": m} for p, m in exc.errors])
    status, type_, title = PROBLEMS[type(exc)]
    problem(status, type_, title=title, detail=exc.detail, **exc.extra)
