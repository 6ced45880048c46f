"""The honest ceiling of a route that reads the database: bare Flask + psycopg.

    PLUGBOARD_DATABASE_URL=... PLUGBOARD_BENCH_TENANT_ID=... gunicorn 'bench.bare_sql:create_app()'

No kernel, no SQLAlchemy, no pool, no auth, no transaction: one psycopg connection per
worker thread (autocommit, opened on the thread's first request), the tenant setting the
row-level security policies read set once per connection (session-wide, not per
transaction), then per request only the route's own queries and the same JSON:

* ``GET /api/v1/pages``: ``count(*)`` then the page of rows (``LIMIT``/``OFFSET``), the
  ``PageSummarySchema`` fields, and the same ``X-Pagination`` header as flask-smorest's;
* ``GET /api/v1/full/notes``: the ``full`` test plugin's notes (one ``SELECT``).

psycopg prepares a statement after its fifth execution, as it does in the kernel.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask, Response, request

PAGE_COLUMNS = ("id", "path", "title", "status", "version", "published_version", "published_at",
                "created_by", "updated_by", "created_at", "updated_at")
PAGES_COUNT = "SELECT count(*) FROM pages WHERE tenant_id = %s"
PAGES_ROWS = (f"SELECT {', '.join(PAGE_COLUMNS)} FROM pages WHERE tenant_id = %s "  # noqa: S608 - constant
              "ORDER BY path LIMIT %s OFFSET %s")
NOTES_ROWS = "SELECT id, text FROM full_notes WHERE tenant_id = %s ORDER BY text"


def _conninfo() -> str:
    url = sa.make_url(os.environ["PLUGBOARD_DATABASE_URL"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def pagination_header(total: int, page: int, page_size: int) -> str:
    """flask-smorest's ``X-Pagination`` for these numbers (same keys, same order)."""
    meta: dict[str, int] = {"total": total}
    if total == 0:
        meta["total_pages"] = 0
    else:
        last = (total - 1) // page_size + 1
        meta.update(total_pages=last, first_page=1, last_page=last)
        if page <= last:
            meta["page"] = page
            if page > 1:
                meta["previous_page"] = page - 1
            if page < last:
                meta["next_page"] = page + 1
    return json.dumps(meta)


def create_app() -> Flask:
    conninfo = _conninfo()
    tenant = os.environ["PLUGBOARD_BENCH_TENANT_ID"]
    local = threading.local()
    app = Flask("bare_sql")

    def connection() -> psycopg.Connection[Any]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(conninfo, autocommit=True)
            conn.execute("SELECT set_config('plugboard.tenant_id', %s, false)", (tenant,))
        return conn

    @app.get("/api/v1/pages")
    def pages() -> Response:
        page = request.args.get("page", 1, type=int)
        page_size = request.args.get("page_size", 10, type=int)
        conn = connection()
        total = conn.execute(PAGES_COUNT, (tenant,)).fetchone()[0]  # type: ignore[index]
        rows = conn.execute(PAGES_ROWS, (tenant, page_size, (page - 1) * page_size)).fetchall()
        body = [{"id": str(r[0]), "path": r[1], "title": r[2], "status": r[3], "version": r[4],
                 "published_version": r[5], "published_at": _iso(r[6]), "created_by": r[7],
                 "updated_by": r[8], "created_at": _iso(r[9]), "updated_at": _iso(r[10])}
                for r in rows]
        return Response(json.dumps(body), mimetype="application/json",
                        headers={"X-Pagination": pagination_header(total, page, page_size)})

    @app.get("/api/v1/full/notes")
    def notes() -> Response:
        rows = connection().execute(NOTES_ROWS, (tenant,)).fetchall()
        body = [{"id": str(r[0]), "text": r[1]} for r in rows]
        return Response(json.dumps(body), mimetype="application/json")

    return app
