"""A threaded HTTP server on 127.0.0.1 that records requests; the base of the fakes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Recorded:
    """One request as the fake received it (``at``: time.time() on arrival)."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    json: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class LoopbackServer:
    """Subclasses implement ``handle(request) -> Response``; ``url`` is the base URL."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        recorded = Recorded(
            time.time(),
            request.method,
            request.path,
            dict(request.headers),
            request.form.to_dict(),
            request.get_json(silent=True),
        )
        with self.lock:
            self.requests.append(recorded)
        response = self.handle(request, recorded)
        return response(environ, start_response)

    def handle(self, request: Request, recorded: Recorded) -> Response:
        raise NotImplementedError
