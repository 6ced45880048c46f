"""The storefront benchmark's baseline: a bare Flask app returning the same JSON bytes.

    PLUGBOARD_BENCH_BODY=body.json gunicorn 'bench.bare_app:create_app()'

No kernel, no plugins, no database: one route that answers every page path with the
file's bytes. ``bench.storefront`` runs it under the same gunicorn settings as the real
storefront, so the ratio of the two throughputs is the cost of everything Plugboard does.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    body = Path(os.environ["PLUGBOARD_BENCH_BODY"]).read_bytes()
    app = Flask("bare")

    @app.get("/api/v1/public/pages/")
    @app.get("/api/v1/public/pages/<path:path>")
    def page(path: str = "") -> Response:
        return Response(body, mimetype="application/json")

    return app
