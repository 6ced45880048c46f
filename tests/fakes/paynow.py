"""A fake Paynow (Zimbabwe) server: initiate (web and mobile), poll, and result posts.

Enough of Paynow's integration API for the official ``paynow`` SDK, with its URL
attributes pointed here, to work unchanged: form posts checked by Paynow's hash, answers
URL-encoded and hashed the same way (SHA-512 over the values in order, then the
integration key; upper-case hex).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response


def paynow_hash(values: dict[str, str], integration_key: str) -> str:
    text = "".join(str(v) for k, v in values.items() if k.lower() != "hash")
    return hashlib.sha512((text + integration_key.lower()).encode()).hexdigest().upper()


class FakePaynow:
    """``integrations``: id -> key the fake accepts. ``transactions``: by merchant reference."""

    def __init__(self) -> None:
        self.url = ""
        self.integrations: dict[str, str] = {}
        self.transactions: dict[str, dict[str, str]] = {}
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.integrations.clear()
            self.transactions.clear()
            self.requests.clear()

    def set_status(self, reference: str, status: str) -> None:
        self.transactions[reference]["status"] = status

    def result_post(self, reference: str, status: str | None = None,
                    key: str | None = None) -> dict[str, str]:
        """The form Paynow posts to the merchant's result URL, hashed (with ``key``, if given)."""
        tx = self.transactions[reference]
        values = {"reference": reference, "paynowreference": tx["paynowreference"], "amount": tx["amount"],
                  "status": status or tx["status"], "pollurl": tx["pollurl"]}
        values["hash"] = paynow_hash(values, key or self.integrations[tx["integration_id"]])
        return values

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        form = request.form.to_dict()
        with self._lock:
            self.requests.append(form)
            body = self._route(request.path, form, request.args.get("guid", ""))
        return Response(urlencode(body), 200, content_type="text/plain")(environ, start_response)

    def _route(self, path: str, form: dict[str, str], guid: str) -> dict[str, str]:
        if path in ("/interface/initiatetransaction", "/interface/remotetransaction"):
            return self._initiate(form, mobile=path.endswith("remotetransaction"))
        if path == "/interface/checkpayment/":
            tx = next((t for t in self.transactions.values() if t["guid"] == guid), None)
            if tx is None:
                return {"status": "Error", "error": "Invalid poll url"}
            return self._signed(tx["integration_id"], {
                "reference": tx["reference"], "paynowreference": tx["paynowreference"],
                "amount": tx["amount"], "status": tx["status"], "pollurl": tx["pollurl"]})
        return {"status": "Error", "error": f"unknown path {path}"}

    def _initiate(self, form: dict[str, str], mobile: bool) -> dict[str, str]:
        key = self.integrations.get(form.get("id", ""))
        if key is None:
            return {"status": "Error", "error": "Invalid Id."}
        if form.get("hash") != paynow_hash(form, key):
            return {"status": "Error", "error": "Invalid Hash.  Hash should be SHA512"}
        guid = secrets.token_hex(16)
        reference = form["reference"]
        self.transactions[reference] = tx = {
            "reference": reference, "integration_id": form["id"], "amount": form["amount"],
            "status": "Sent", "guid": guid, "paynowreference": str(1_000_000 + len(self.transactions)),
            "pollurl": f"{self.url}/interface/checkpayment/?guid={guid}",
            "resulturl": form.get("resulturl", ""), "phone": form.get("phone", ""),
            "method": form.get("method", "")}
        answer = {"status": "Ok", "pollurl": tx["pollurl"], "paynowreference": tx["paynowreference"]}
        if mobile:
            answer = {"status": "Ok", "instructions": "Dial *151*2*4# and enter your EcoCash PIN",
                      "pollurl": tx["pollurl"], "paynowreference": tx["paynowreference"]}
        else:
            answer = {"status": "Ok", "browserurl": f"{self.url}/payment/confirm/?guid={guid}",
                      "pollurl": tx["pollurl"]}
        return self._signed(form["id"], answer)

    def _signed(self, integration_id: str, values: dict[str, str]) -> dict[str, str]:
        values["hash"] = paynow_hash(values, self.integrations[integration_id])
        return values
