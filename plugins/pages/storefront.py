"""``/api/v1/public/pages``: published pages for storefronts, fast, by domain.

The kernel's public gate has already resolved the tenant (Host or ``X-Tenant``), opened
its scope and answered 404 if the tenant has not enabled ``pages``. Responses come from
:mod:`.cache`; only a miss reads the database, then builds the body once: the published
Puck data exactly as the editor saved it, except that components contributed by other
plugins get their ``plugboard_component_data`` merged into their props.

Warm hits do not even reach these views: :func:`responder` answers them at the kernel's
public edge (``kernel.api.add_public_responder``), ahead of Flask's request cycle, with
the same bytes and headers. The views stay the authoritative path: misses, 404s, HEAD.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, current_app, g, request
from flask_smorest import Blueprint
from werkzeug.datastructures import Headers
from werkzeug.http import http_date, parse_etags

from kernel.api import EdgeResponse, page_components, plugin_config, problem, tenant_hook
from plugins.pages import cache, puck, services
from plugins.pages.schemas import PublicPageSchema, PuckDataSchema

log = logging.getLogger("plugins.pages")

blp = Blueprint("pages_public", __name__, url_prefix="/api/v1/public/pages",
                description="Published pages, for storefronts (tenant from Host or X-Tenant)")

CONDITIONAL = {"304": {"description": "Not modified: the If-None-Match ETag is current"}}


def not_modified(found: cache.Entry, if_none_match: str | None) -> bool:
    return bool(if_none_match) and parse_etags(if_none_match).contains_weak(found.etag)


def _send(found: cache.Entry) -> Response:
    if found.status != 200:
        problem(404, "page-not-found", title="Page not found",
                detail="No published page at this path.")
    if not_modified(found, request.headers.get("If-None-Match")):
        return Response(status=304, headers=found.headers)
    return Response(found.body, headers=found.headers)


def _key(endpoint: str, args: Mapping[str, Any]) -> str:
    """The cache key of a request as routed: the list, or the path as given."""
    return cache.INDEX if endpoint == blp.name + ".index" else "/" + str(args.get("path", ""))


def responder(store: cache.PageCache) -> Callable[..., EdgeResponse | None]:
    """The public edge's answer for warm hits; None sends the request to the views."""

    def respond(tenant_id: uuid.UUID, endpoint: str, args: Mapping[str, Any],
                headers: Headers) -> EdgeResponse | None:
        found = store.get(tenant_id, _key(endpoint, args))
        if found is None or found.status != 200:
            return None
        if not_modified(found, headers.get("If-None-Match")):
            return EdgeResponse(304, found.headers)
        return EdgeResponse(200, found.headers, found.body)

    return respond


def _headers(settings: services.Settings, ttl: float | None, modified: Any = None) -> dict[str, str]:
    max_age = settings.cache_max_age if ttl is None else min(settings.cache_max_age, int(ttl))
    headers = {
        "Content-Type": "application/json",
        "Cache-Control": f"public, max-age={max_age}, "
                         f"stale-while-revalidate={settings.stale_while_revalidate}",
        "Vary": "X-Tenant",  # the tenant comes from Host (in every cache key) or this header
        "Access-Control-Allow-Origin": "*",
    }
    if modified is not None:
        headers["Last-Modified"] = http_date(modified)
    return headers


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _build_page(tenant_id: uuid.UUID, path: str) -> cache.Entry:
    page = services.published_page(tenant_id, path)
    if page is None:
        return cache.MISSING
    settings = services.Settings.from_config(plugin_config("pages"))
    data, filled = fill_components(tenant_id, page.data)
    ttl = settings.component_data_ttl if filled else None
    return cache.entry(_encode(data), _headers(settings, ttl, page.published_at), ttl)


def _build_index(tenant_id: uuid.UUID) -> cache.Entry:
    pages = services.published_index(tenant_id)
    listed = [{**p, "updated_at": p["updated_at"].isoformat()} for p in pages]
    settings = services.Settings.from_config(plugin_config("pages"))
    return cache.entry(_encode(listed), _headers(settings, None), None)


def fill_components(tenant_id: uuid.UUID, data: Mapping[str, Any]) -> tuple[Any, bool]:
    """``data`` with other plugins' component data merged into props; whether any was asked.

    Only component types declared through ``plugboard_page_components`` are asked about,
    among the tenant's enabled plugins (firstresult). A plugin that fails is logged and
    its component keeps the editor's props; the entry still expires, so it is retried.
    """
    declared = {c["type"] for c in page_components() if "type" in c}
    if not declared or not any(node["type"] in declared for node in puck.walk(data)):
        return data, False
    filled = copy.deepcopy(dict(data))
    hook = tenant_hook("plugboard_component_data")
    for node in puck.walk(filled):
        if node["type"] in declared:
            _fill(hook, tenant_id, node)
    return filled, True


def _fill(hook: Any, tenant_id: uuid.UUID, node: Any) -> None:
    props = node["props"]
    try:
        extra = hook(tenant_id=tenant_id, component_type=node["type"], props=dict(props))
    except Exception:  # another plugin's bug must not take the page down
        log.exception("plugboard_component_data failed", extra={"component": node["type"]})
        return
    if isinstance(extra, Mapping):
        props.update({k: v for k, v in extra.items() if k != "id"})


def _store() -> cache.PageCache:
    found: cache.PageCache = current_app.extensions[cache.EXTENSION]
    return found


@blp.get("", endpoint="index")
@blp.doc(responses=CONDITIONAL)
@blp.response(200, PublicPageSchema(many=True))
def index() -> Response:
    """The tenant's published pages (path, live title, publication time), by path."""
    tenant_id = g.public_tenant.id
    return _send(cache.load(_store(), tenant_id, cache.INDEX, lambda: _build_index(tenant_id)))


@blp.get("/", endpoint="home")
@blp.get("/<path:path>", endpoint="page")
@blp.doc(responses=CONDITIONAL)
@blp.response(200, PuckDataSchema)
def page(path: str = "") -> Response:
    """The published Puck data at ``path`` (``/`` for the home page), as the editor saved it.

    Strong ``ETag`` (``304`` on ``If-None-Match``), ``Cache-Control`` with a short max-age
    and stale-while-revalidate. Drafts are never served; unpublished or unknown: 404.
    """
    tenant_id, store = g.public_tenant.id, _store()
    found = store.get(tenant_id, "/" + path)  # the hot path: a normal path, cached
    if found is None:
        try:
            key = services.normalize_path(path)
        except services.InvalidPage:  # no page can live there
            return _send(cache.MISSING)
        found = cache.load(store, tenant_id, key, lambda: _build_page(tenant_id, key))
    return _send(found)


def invalidate_on_config_change(tenant_id: uuid.UUID) -> None:
    """Cache headers come from the config: drop the tenant's entries when it changes."""
    cache.announce(tenant_id)
