"""The kernel's request steps run in Flask's order from one hook of each kind."""

from __future__ import annotations

from flask import Flask, Request, Response

from kernel.request_hooks import Globals, request_hooks


def _app(calls: list[str], answer_at: str | None = None) -> Flask:
    app = Flask(__name__)
    hooks = request_hooks(app)
    assert request_hooks(app) is hooks  # one per app

    for name in ("a", "b", "c"):
        def before(req: Request, g: Globals, name: str = name) -> str | None:
            calls.append(f"before {name} {req.path}")
            g.seen = [*g.get("seen", []), name]
            return f"answered by {name}" if name == answer_at else None

        def after(req: Request, g: Globals, response: Response, name: str = name) -> Response:
            calls.append(f"after {name}")
            response.headers.add("X-Step", name)
            return response

        def teardown(g: Globals, exc: BaseException | None, name: str = name) -> None:
            calls.append(f"teardown {name} {g.seen}")

        hooks.before(before)
        hooks.after(after)
        hooks.teardown(teardown)

    app.add_url_rule("/here", "here", lambda: "view")
    return app


def test_before_as_registered_after_and_teardown_reversed() -> None:
    calls: list[str] = []
    resp = _app(calls).test_client().get("/here")
    assert resp.get_data(as_text=True) == "view"
    assert resp.headers.getlist("X-Step") == ["c", "b", "a"]
    assert calls == [
        "before a /here", "before b /here", "before c /here",
        "after c", "after b", "after a",
        "teardown c ['a', 'b', 'c']", "teardown b ['a', 'b', 'c']", "teardown a ['a', 'b', 'c']",
    ]


def test_a_before_step_that_answers_stops_the_rest_and_the_view() -> None:
    calls: list[str] = []
    resp = _app(calls, answer_at="b").test_client().get("/here")
    assert resp.get_data(as_text=True) == "answered by b"
    assert calls[:2] == ["before a /here", "before b /here"]
    assert "before c /here" not in calls
    assert resp.headers.getlist("X-Step") == ["c", "b", "a"]  # every after step still runs
