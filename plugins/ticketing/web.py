"""What the staff and storefront blueprints share: the one mapping of domain errors to
``application/problem+json``, and the JSON shapes of events and orders."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from kernel.api import plugin_config, problem
from plugins.ticketing import orders
from plugins.ticketing.errors import Invalid, TicketingError
from plugins.ticketing.models import Order

F = TypeVar("F", bound=Callable[..., Any])


def domain_errors(view: F) -> F:
    """Turn :mod:`.errors` into problem responses (status, type and title from the class)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except Invalid as exc:
            pointer = "/" + exc.field.replace(".", "/")
            problem(exc.status, exc.type_, title=exc.title, detail=exc.detail,
                    errors=[{"field": exc.field, "pointer": pointer, "location": "json",
                             "message": exc.detail}], **exc.extra)
        except TicketingError as exc:
            problem(exc.status, exc.type_, title=exc.title, detail=exc.detail, **exc.extra)

    return cast(F, wrapper)


def settings() -> orders.Settings:
    return orders.Settings.from_config(plugin_config("ticketing"))


def order_json(order: Order) -> dict[str, Any]:
    from plugins.ticketing.schemas import OrderSchema

    return cast(dict[str, Any], OrderSchema().dump(order))
