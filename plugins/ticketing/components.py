"""Page components for the pages plugin's editor: ``EventList`` and ``EventCard``.

Their data is asked for when a published page is fetched (``plugboard_component_data``)
and served publicly, cached by pages: published events only, no per-visitor data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.ticketing import services, storefront

DECLARED: list[dict[str, Any]] = [
    {"type": "EventList", "title": "Event list",
     "fields": {"title": {"type": "text"}, "limit": {"type": "number", "min": 1, "max": 50}},
     "defaultProps": {"title": "Upcoming events", "limit": 6}},
    {"type": "EventCard", "title": "Event card",
     "fields": {"slug": {"type": "text", "label": "Event slug"}},
     "defaultProps": {"slug": ""}},
]
MAX_LISTED = 50


def _limit(props: Mapping[str, Any]) -> int:
    try:
        return max(1, min(MAX_LISTED, int(props.get("limit", 6))))
    except (TypeError, ValueError):
        return 6


def data(component_type: str, props: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the storefront block shows; None for components that are not ours."""
    if component_type == "EventList":
        events = services.listed_events()[: _limit(props)]
        return {"events": [storefront.event_body(e) for e in events]}
    if component_type == "EventCard":
        slug = str(props.get("slug") or "")
        event = services.published_event(slug) if slug else None
        found = event is not None and event.slug == slug
        return {"event": storefront.event_body(event) if found and event else None}
    return None
