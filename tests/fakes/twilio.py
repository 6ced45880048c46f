"""A fake Twilio REST API (Messages create) for the real ``twilio`` SDK to talk to.

Point the SDK at it with ``PLUGBOARD_COMMS_TWILIO_API_URL=<fake.url>`` (the comms plugin
sets ``client.api.base_url``). It checks HTTP basic auth against the accounts it knows,
answers like Twilio (201 with a message resource, errors as Twilio's JSON), and can be
told to fail: ``fail_next(429, times=2)``, ``refuse("+1…", 21610)``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import deque
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.loopback import LoopbackServer, Recorded

ERRORS = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
    21610: (21610, "Attempt to send to unsubscribed recipient"),
    21211: (21211, "The 'To' number is not a valid phone number."),
}


class FakeTwilio(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, str] = {}
        self._failures: deque[int] = deque()
        self._refused: dict[str, int] = {}

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._failures.clear()
            self._refused.clear()

    def fail_next(self, status: int, times: int = 1) -> None:
        """The next ``times`` creates answer ``status`` (429, 500, 503)."""
        with self.lock:
            self._failures.extend([status] * times)

    def refuse(self, to: str, code: int) -> None:
        """Creates to ``to`` answer 400 with Twilio error ``code`` (e.g. 21610)."""
        with self.lock:
            self._refused[to] = code

    def sends(self) -> list[Recorded]:
        """Accepted Messages creates, in arrival order."""
        with self.lock:
            return [r for r in self.requests if r.extra.get("sid")]

    def _error(self, status: int, code: int, message: str) -> Response:
        body = {
            "code": code,
            "message": message,
            "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
        }
        return Response(json.dumps(body), status, content_type="application/json")

    def _authorised(self, request: Request, account: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == account and self.accounts.get(account) == password

    def handle(self, request: Request, recorded: Recorded) -> Response:
        parts = request.path.strip("/").split("/")  # 2010-04-01/Accounts/AC…/Messages.json
        if request.method != "POST" or len(parts) != 4 or parts[3] != "Messages.json":
            return self._error(404, 20404, "The requested resource was not found")
        if not self._authorised(request, parts[2]):
            return self._error(401, 20003, "Authenticate")
        with self.lock:
            failure = self._failures.popleft() if self._failures else None
            refused = self._refused.get(recorded.form.get("To", ""))
        if failure:
            return self._error(failure, *ERRORS[failure])
        if refused:
            return self._error(400, *ERRORS[refused])
        return self._created(parts[2], recorded)

    def _created(self, account: str, recorded: Recorded) -> Response:
        sid = "SM" + uuid.uuid4().hex
        recorded.extra["sid"] = sid
        form = recorded.form
        body: dict[str, Any] = {
            "sid": sid,
            "account_sid": account,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": "Tue, 24 Nov 2026 10:00:00 +0000",
            "price": None,
            "error_code": None,
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        return Response(json.dumps(body), 201, content_type="application/json")
