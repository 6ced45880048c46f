"""``/api/v1/admin/payments``: every tenant's payments, for platform admins.

The kernel's admin gate lets platform admins only (tenants' staff get 403) and runs
these views in the platform scope, across tenants, on purpose.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from kernel.api import paginate, platform_admin_required
from plugins.payments import services
from plugins.payments.models import Payment
from plugins.payments.schemas import AdminPaymentQuerySchema, AdminPaymentSchema

blp = Blueprint("payments_admin", __name__, url_prefix="/api/v1/admin/payments",
                description="Platform administration of payments")


@blp.get("/payments")
@platform_admin_required
@blp.arguments(AdminPaymentQuerySchema, location="query")
@blp.response(200, AdminPaymentSchema(many=True))
@blp.paginate()
def list_payments(query: dict[str, Any], pagination_parameters: Any) -> list[Payment]:
    """Every tenant's payments, newest first; filter by tenant_id, account, kind, ref, status."""
    return paginate(services.list_payments(query), pagination_parameters)
