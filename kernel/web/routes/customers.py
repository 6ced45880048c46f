"""``/api/v1/customers``: the tenant's customers, for staff; timeline, export, erase.

.. versionadded:: 1.1
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from kernel.data.session import db
from kernel.identity import customers
from kernel.identity.auth import auth_required
from kernel.problems import problem
from kernel.runtime import audit
from kernel.web.pagination import paginate
from kernel.web.routes.customer_schemas import (
    CustomerCreateSchema,
    CustomerPatchSchema,
    CustomerQuerySchema,
    CustomerSchema,
    ExportSchema,
    TimelineEntrySchema,
)

blp = Blueprint("customers", __name__, url_prefix="/api/v1/customers", description="Customers")


@blp.route("")
class Customers(MethodView):
    @auth_required("customers.read")
    @blp.arguments(CustomerQuerySchema, location="query")
    @blp.response(200, CustomerSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[customers.Customer]:
        """The tenant's customers, newest first; ``q`` searches e-mail, name and phone."""
        return paginate(customers.search(query.get("q"), query.get("email")), pagination_parameters)

    @auth_required("customers.write")
    @blp.arguments(CustomerCreateSchema)
    @blp.response(201, CustomerSchema)
    @blp.alt_response(409, description="A customer with this e-mail exists")
    def post(self, data: dict[str, Any]) -> customers.Customer:
        """Add a customer (a guest until they register on the storefront)."""
        row = customers.create_customer(data["email"], data["name"], data.get("phone"),
                                        data["marketing_consent"])
        db.session.commit()
        audit.describe("customers.create", "customer", row.id)
        return row


@blp.route("/<uuid:customer_id>")
class CustomerItem(MethodView):
    @auth_required("customers.read")
    @blp.response(200, CustomerSchema)
    def get(self, customer_id: uuid.UUID) -> customers.Customer:
        """One customer."""
        return _live(customer_id)

    @auth_required("customers.write")
    @blp.arguments(CustomerPatchSchema)
    @blp.response(200, CustomerSchema)
    def patch(self, data: dict[str, Any], customer_id: uuid.UUID) -> customers.Customer:
        """Change a customer's e-mail, name, phone or marketing consent."""
        row = customers.update_customer(_live(customer_id), data)
        db.session.commit()
        audit.describe("customers.update", "customer", row.id, fields=sorted(data))
        return row

    @auth_required("customers.erase")
    @blp.response(204)
    def delete(self, customer_id: uuid.UUID) -> None:
        """Erase the person's data here and in every enabled plugin (money records are kept,
        anonymised). Cannot be undone."""
        customers.erase(_live(customer_id))
        db.session.commit()
        audit.describe("customers.erase", "customer", customer_id)


@blp.get("/<uuid:customer_id>/timeline")
@auth_required("customers.read")
@blp.response(200, TimelineEntrySchema(many=True))
def timeline(customer_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every enabled plugin's dated entries for this person, newest first."""
    return customers.timeline(_live(customer_id))


@blp.get("/<uuid:customer_id>/export")
@auth_required("customers.export")
@blp.response(200, ExportSchema)
def export(customer_id: uuid.UUID) -> dict[str, Any]:
    """The person's data held by the kernel and every enabled plugin (data-subject access)."""
    return customers.export(_live(customer_id))


def _live(customer_id: uuid.UUID) -> customers.Customer:
    row = customers.get_customer(customer_id)
    if row.erased_at is not None:
        problem(404, "not-found", title="Not found", detail="No such customer (erased).")
    return row
