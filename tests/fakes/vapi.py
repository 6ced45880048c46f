"""A fake Vapi API (``POST /call``) for ``vapi-server-sdk`` to talk to.

Point the SDK at it with ``PLUGBOARD_COMMS_VAPI_API_URL=<fake.url>`` (the SDK's
``base_url``). It checks the Bearer API key and answers with a Call resource shaped like
Vapi's; ``fail_next(status)`` makes the next create fail.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import deque

from werkzeug.wrappers import Request, Response

from tests.fakes.loopback import LoopbackServer, Recorded


class FakeVapi(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.api_keys: set[str] = set()
        self._failures: deque[int] = deque()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._failures.clear()

    def fail_next(self, status: int, times: int = 1) -> None:
        with self.lock:
            self._failures.extend([status] * times)

    def calls(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.extra.get("call_id")]

    def handle(self, request: Request, recorded: Recorded) -> Response:
        if request.method != "POST" or request.path.rstrip("/") != "/call":
            return _json({"message": "Not Found", "statusCode": 404}, 404)
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if key not in self.api_keys:
            return _json(
                {
                    "message": "Invalid Key. Hot tip, you may be using the private key "
                    "instead of the public key, or vice versa.",
                    "statusCode": 401,
                },
                401,
            )
        with self.lock:
            failure = self._failures.popleft() if self._failures else None
        if failure:
            return _json({"message": "failure", "statusCode": failure}, failure)
        body = recorded.json or {}
        if not body.get("assistantId") or not (body.get("customer") or {}).get("number"):
            return _json({"message": ["assistantId or customer.number missing"], "statusCode": 400}, 400)
        call_id = str(uuid.uuid4())
        recorded.extra["call_id"] = call_id
        now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        return _json(
            {
                "id": call_id,
                "orgId": str(uuid.uuid4()),
                "createdAt": now,
                "updatedAt": now,
                "type": "outboundPhoneCall",
                "status": "queued",
                "assistantId": body["assistantId"],
                "phoneNumberId": body.get("phoneNumberId"),
                "customer": body["customer"],
                "assistantOverrides": body.get("assistantOverrides"),
            },
            201,
        )


def _json(body: object, status: int) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
