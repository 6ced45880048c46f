"""``/api/v1/ticketing``: the tenant's events, ticket types, quotas and check-in lists.

The kernel's gate has authenticated the caller, opened the tenant's scope and checked
that the tenant enabled ``ticketing``; each view checks its permission
(``ticketing.read``, ``ticketing.write``), leaves the work to the services and commits.
Orders, attendees and check-in are in :mod:`.api_orders` (same blueprint).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from kernel.api import (
    audit_describe,
    auth_required,
    current_tenant_id,
    db,
    paginate,
    problem,
    public_asset_key,
    storage,
)
from plugins.ticketing import capacity, checkin, services
from plugins.ticketing.models import Event, Quota, TicketType
from plugins.ticketing.schemas import (
    CheckinListCreateSchema,
    CheckinListSchema,
    CoverUploadSchema,
    EventCreateSchema,
    EventPatchSchema,
    EventQuerySchema,
    EventSchema,
    QuotaCreateSchema,
    QuotaPatchSchema,
    QuotaSchema,
    TicketTypeCreateSchema,
    TicketTypePatchSchema,
    TicketTypeSchema,
)
from plugins.ticketing.web import domain_errors

blp = Blueprint("ticketing", __name__, url_prefix="/api/v1/ticketing",
                description="Events, ticket types, shared quotas, orders, attendees and check-in")

EVENT = "/events/<uuid:event_id>"
MAX_COVER_BYTES = 5 * 1024 * 1024
COVER_TYPES = {b"\x89PNG\r\n\x1a\n": ("image/png", "png"), b"\xff\xd8\xff": ("image/jpeg", "jpg")}


def _done(action: str, entity: str, entity_id: Any, **details: Any) -> None:
    """Commit the view's work and name it for the audit log."""
    db.session.commit()
    audit_describe(f"ticketing.{action}", entity, entity_id, **details)


# -- events ---------------------------------------------------------------------------------------


@blp.route("/events")
class Events(MethodView):
    @auth_required("ticketing.read")
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Event]:
        """The tenant's events (drafts too), soonest first; filter ``status``, search ``q``."""
        return paginate(services.events_query(**query), pagination_parameters)

    @auth_required("ticketing.write")
    @blp.arguments(EventCreateSchema)
    @blp.response(201, EventSchema)
    @blp.alt_response(409, description="Another event of the tenant has this slug")
    @domain_errors
    def post(self, data: dict[str, Any]) -> Event:
        """Create an event (a draft: not on the storefront until published)."""
        event = services.create_event(current_tenant_id(), data)
        _done("event.create", "event", event.id, slug=event.slug)
        return event


@blp.route(EVENT)
class EventItem(MethodView):
    @auth_required("ticketing.read")
    @blp.response(200, EventSchema)
    @domain_errors
    def get(self, event_id: uuid.UUID) -> Event:
        """One event."""
        return services.get_event(event_id)

    @auth_required("ticketing.write")
    @blp.arguments(EventPatchSchema)
    @blp.response(200, EventSchema)
    @domain_errors
    def patch(self, data: dict[str, Any], event_id: uuid.UUID) -> Event:
        """Change an event's details."""
        event = services.update_event(current_tenant_id(), event_id, data)
        _done("event.update", "event", event_id, fields=sorted(data))
        return event

    @auth_required("ticketing.write")
    @blp.response(204)
    @blp.alt_response(409, description="The event has orders: cancel it instead")
    @domain_errors
    def delete(self, event_id: uuid.UUID) -> None:
        """Delete an event that has no orders."""
        services.delete_event(current_tenant_id(), event_id)
        _done("event.delete", "event", event_id)


@blp.post(f"{EVENT}/publish")
@auth_required("ticketing.write")
@blp.response(200, EventSchema)
@blp.alt_response(409, description="Not a draft (illegal-transition)")
@domain_errors
def publish(event_id: uuid.UUID) -> Event:
    """draft → published: on the storefront from now on."""
    event = services.publish_event(current_tenant_id(), event_id)
    _done("event.publish", "event", event_id)
    return event


@blp.post(f"{EVENT}/cancel")
@auth_required("ticketing.write")
@blp.response(200, EventSchema)
@blp.alt_response(409, description="Already cancelled (illegal-transition)")
@domain_errors
def cancel(event_id: uuid.UUID) -> Event:
    """draft or published → cancelled: sales stop; orders are cancelled or refunded one by one."""
    event = services.cancel_event(current_tenant_id(), event_id)
    _done("event.cancel", "event", event_id)
    return event


@blp.post(f"{EVENT}/cover")
@auth_required("ticketing.write")
@blp.arguments(CoverUploadSchema, location="files")
@blp.response(200, EventSchema)
@blp.alt_response(413, description="Larger than 5 MiB")
@blp.alt_response(415, description="Not a PNG or JPEG image")
@domain_errors
def upload_cover(files: dict[str, Any], event_id: uuid.UUID) -> Event:
    """Upload the event's cover image (multipart ``file``, PNG or JPEG, at most 5 MiB)."""
    services.get_event(event_id)
    data = files["file"].read(MAX_COVER_BYTES + 1)
    if len(data) > MAX_COVER_BYTES:
        problem(413, "cover-too-large", title="Cover refused", detail="The image is larger than 5 MiB.")
    kind = next((v for magic, v in COVER_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        problem(415, "cover-type-refused", title="Cover refused", detail="Send a PNG or JPEG image.")
    key = public_asset_key(current_tenant_id(), f"ticketing/{event_id}/{uuid.uuid4().hex}.{kind[1]}")
    storage().put(key, data, kind[0])
    event = services.set_cover(current_tenant_id(), event_id, key)
    _done("event.cover", "event", event_id, size=len(data))
    return event


# -- ticket types ----------------------------------------------------------------------------------


@blp.route(f"{EVENT}/ticket-types")
class TicketTypes(MethodView):
    @auth_required("ticketing.read")
    @blp.response(200, TicketTypeSchema(many=True))
    @domain_errors
    def get(self, event_id: uuid.UUID) -> list[TicketType]:
        """The event's ticket types, hidden ones included."""
        services.get_event(event_id)
        return services.ticket_types(event_id)

    @auth_required("ticketing.write")
    @blp.arguments(TicketTypeCreateSchema)
    @blp.response(201, TicketTypeSchema)
    @domain_errors
    def post(self, data: dict[str, Any], event_id: uuid.UUID) -> TicketType:
        """Add a ticket type; ``capacity`` limits it on its own, quotas limit it with others."""
        row = services.create_ticket_type(current_tenant_id(), event_id, data)
        _done("ticket_type.create", "ticket_type", row.id, event=str(event_id))
        return row


@blp.route(f"{EVENT}/ticket-types/<uuid:type_id>")
class TicketTypeItem(MethodView):
    @auth_required("ticketing.read")
    @blp.response(200, TicketTypeSchema)
    @domain_errors
    def get(self, event_id: uuid.UUID, type_id: uuid.UUID) -> TicketType:
        """One ticket type."""
        return services.get_ticket_type(event_id, type_id)

    @auth_required("ticketing.write")
    @blp.arguments(TicketTypePatchSchema)
    @blp.response(200, TicketTypeSchema)
    @domain_errors
    def patch(self, data: dict[str, Any], event_id: uuid.UUID, type_id: uuid.UUID) -> TicketType:
        """Change a ticket type (tickets already sold keep their price)."""
        row = services.update_ticket_type(current_tenant_id(), event_id, type_id, data)
        _done("ticket_type.update", "ticket_type", type_id, fields=sorted(data))
        return row

    @auth_required("ticketing.write")
    @blp.response(204)
    @domain_errors
    def delete(self, event_id: uuid.UUID, type_id: uuid.UUID) -> None:
        """Delete a ticket type nobody bought (hide it otherwise)."""
        services.delete_ticket_type(current_tenant_id(), event_id, type_id)
        _done("ticket_type.delete", "ticket_type", type_id)


# -- quotas ------------------------------------------------------------------------------------------


def _quota_json(quotas: list[Quota]) -> list[dict[str, Any]]:
    members = services.quota_members(q.id for q in quotas)
    in_use = capacity.used(q.id for q in quotas)
    return [{"id": q.id, "event_id": q.event_id, "name": q.name, "size": q.size,
             "ticket_types": members.get(q.id, []), "used": in_use.get(q.id, 0),
             "available": max(0, q.size - in_use.get(q.id, 0))} for q in quotas]


@blp.route(f"{EVENT}/quotas")
class Quotas(MethodView):
    @auth_required("ticketing.read")
    @blp.response(200, QuotaSchema(many=True))
    @domain_errors
    def get(self, event_id: uuid.UUID) -> list[dict[str, Any]]:
        """The event's shared quotas, with the seats in use and left."""
        services.get_event(event_id)
        return _quota_json(services.quotas(event_id))

    @auth_required("ticketing.write")
    @blp.arguments(QuotaCreateSchema)
    @blp.response(201, QuotaSchema)
    @domain_errors
    def post(self, data: dict[str, Any], event_id: uuid.UUID) -> dict[str, Any]:
        """Share ``size`` seats among ``ticket_types`` (a type counts against every quota it is in)."""
        quota = services.create_quota(current_tenant_id(), event_id, data)
        _done("quota.create", "quota", quota.id, size=quota.size)
        return _quota_json([quota])[0]


@blp.route(f"{EVENT}/quotas/<uuid:quota_id>")
class QuotaItem(MethodView):
    @auth_required("ticketing.write")
    @blp.arguments(QuotaPatchSchema)
    @blp.response(200, QuotaSchema)
    @domain_errors
    def patch(self, data: dict[str, Any], event_id: uuid.UUID, quota_id: uuid.UUID) -> dict[str, Any]:
        """Rename, resize or change the ticket types of a quota."""
        quota = services.update_quota(current_tenant_id(), event_id, quota_id, data)
        _done("quota.update", "quota", quota_id, fields=sorted(data))
        return _quota_json([quota])[0]

    @auth_required("ticketing.write")
    @blp.response(204)
    @domain_errors
    def delete(self, event_id: uuid.UUID, quota_id: uuid.UUID) -> None:
        """Delete a shared quota (its ticket types are no longer limited by it)."""
        services.delete_quota(current_tenant_id(), event_id, quota_id)
        _done("quota.delete", "quota", quota_id)


# -- check-in lists and counts -------------------------------------------------------------------------


@blp.route(f"{EVENT}/checkin-lists")
class CheckinLists(MethodView):
    @auth_required("ticketing.read")
    @blp.response(200, CheckinListSchema(many=True))
    @domain_errors
    def get(self, event_id: uuid.UUID) -> list[Any]:
        """The event's check-in lists."""
        return services.checkin_lists(event_id)

    @auth_required("ticketing.write")
    @blp.arguments(CheckinListCreateSchema)
    @blp.response(201, CheckinListSchema)
    @domain_errors
    def post(self, data: dict[str, Any], event_id: uuid.UUID) -> Any:
        """A list admitting every ticket of the event, or those of ``ticket_types``."""
        row = services.create_checkin_list(current_tenant_id(), event_id, data)
        _done("checkin_list.create", "checkin_list", row.id)
        return row


@blp.get(f"{EVENT}/stats")
@auth_required("ticketing.read")
@blp.response(200)
@domain_errors
def stats(event_id: uuid.UUID) -> Response | dict[str, Any]:
    """Sales and check-in counts per ticket type: paid, pending (holding seats), checked in, left."""
    services.get_event(event_id)
    types = services.ticket_types(event_id)
    sold = capacity.sold(event_id)
    arrived = checkin.checked_in(event_id)
    left = capacity.availability([t.id for t in types])
    rows = [{"ticket_type": str(t.id), "name": t.name,
             "paid": sold.get(t.id, {}).get("paid", 0), "pending": sold.get(t.id, {}).get("pending", 0),
             "checked_in": arrived.get(t.id, 0), "available": left[t.id]} for t in types]
    totals = {k: sum(r[k] for r in rows) for k in ("paid", "pending", "checked_in")}
    return {"event": str(event_id), "ticket_types": rows, "totals": totals}
