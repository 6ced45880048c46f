"""``plugboard demo``: give the demo tenant a published event with tickets on sale, once.

The tenant still switches ticketing on (``PUT /api/v1/plugins/ticketing/activation``)
before the storefront shows it: ticketing is not on by default.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from kernel.api import db, utcnow
from plugins.ticketing import services
from plugins.ticketing.models import Event

SLUG = "plugboard-summer-night"


def seed(tenant_id: uuid.UUID) -> None:
    """Create and publish the demo event unless the tenant has it (idempotent); commits."""
    if db.session.scalar(sa.select(Event.id).where(Event.slug == SLUG)) is not None:
        return
    start = (utcnow() + dt.timedelta(days=30)).replace(hour=18, minute=0, second=0, microsecond=0)
    event = services.create_event(tenant_id, {
        "title": "Plugboard Summer Night", "slug": SLUG, "venue": "Harbour Hall, Hamburg",
        "timezone": "Europe/Berlin", "description": "Live music on the water. Seeded by plugboard demo.",
        "starts_at": start, "ends_at": start + dt.timedelta(hours=5)})
    standard = services.create_ticket_type(tenant_id, event.id, {
        "name": "Standard", "price": {"amount": 2500, "currency": "EUR"}, "max_per_order": 6})
    reduced = services.create_ticket_type(tenant_id, event.id, {
        "name": "Reduced", "price": {"amount": 1500, "currency": "EUR"}, "max_per_order": 2})
    services.create_ticket_type(tenant_id, event.id, {
        "name": "Guest list", "price": {"amount": 0, "currency": "EUR"}, "capacity": 20, "max_per_order": 1})
    services.create_quota(tenant_id, event.id, {"name": "Hall", "size": 300,
                                                "ticket_types": [standard.id, reduced.id]})
    services.create_checkin_list(tenant_id, event.id, {"name": "Main entrance"})
    services.publish_event(tenant_id, event.id)
    db.session.commit()

