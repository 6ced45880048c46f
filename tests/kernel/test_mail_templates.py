"""Mail templates a tenant overrides: validated when saved, rendered in Jinja2's sandbox,
applied only to that tenant's mail, and never to the platform's staff mail."""

from __future__ import annotations

from email.message import Message

from flask import Flask

from tests.helpers import Api, MailBox, assert_problem, row_counts

BASE = "/api/v1/tenant/mail-templates"
NAME = "customer_password_reset"
SECRET = "customer passphrase 1"


def part(msg: Message, subtype: str) -> str:
    for piece in msg.walk():
        if piece.get_content_type() == f"text/{subtype}":
            return str(piece.get_payload(decode=True).decode())
    raise AssertionError(f"no text/{subtype} part")


def forgot(api: Api, slug: str, email: str) -> None:
    api.post("/api/v1/public/account/register", headers={"X-Tenant": slug},
             json={"email": email, "password": SECRET, "name": "Cara"})
    resp = api.post("/api/v1/public/account/password/forgot", headers={"X-Tenant": slug},
                    json={"email": email})
    assert resp.status_code == 202


def test_list_and_read_the_default(api: Api) -> None:
    owner = api.register()
    listed = api.get(BASE, owner).get_json()
    assert NAME in [t["name"] for t in listed]
    assert "password_reset" not in [t["name"] for t in listed]  # staff mail is the platform's
    body = api.get(f"{BASE}/{NAME}", owner).get_json()
    assert body["overridden"] is False and body["text"] == body["default"]["text"]
    assert {"name", "token", "tenant_name", "ttl_minutes"} <= set(body["variables"])
    assert_problem(api.get(f"{BASE}/password_reset", owner), 404)


def test_override_applies_to_this_tenants_mail_only(api: Api, mailbox: MailBox) -> None:
    a, b = api.register("shop-a"), api.register("shop-b")
    resp = api.put(f"{BASE}/{NAME}", a, json={
        "subject": "{{ tenant_name }}: new password",
        "text": "Hi {{ name }}! Your code: token={{ token }} ({{ ttl_minutes }} min)\n",
        "html": "<p>Hi {{ name }}</p>"})
    assert resp.status_code == 200 and resp.get_json()["overridden"] is True
    forgot(api, "shop-a", "cara@example.com")
    forgot(api, "shop-b", "dan@example.com")
    mine = mailbox.to("cara@example.com")[-1]
    assert mine["Subject"] == "Tenant shop-a: new password"
    assert part(mine, "plain").startswith("Hi Cara! Your code: token=")
    assert part(mine, "html").strip() == "<p>Hi Cara</p>"
    other = mailbox.to("dan@example.com")[-1]
    assert other["Subject"] == "Reset your Tenant shop-b password"
    # the token in the overridden mail works
    token = mailbox.last_token("cara@example.com")
    resp = api.post("/api/v1/public/account/password/reset", headers={"X-Tenant": "shop-a"},
                    json={"token": token, "password": "a new customer passphrase"})
    assert resp.status_code == 204
    assert api.get(f"{BASE}/{NAME}", b).get_json()["overridden"] is False


def test_html_is_escaped_and_the_sandbox_holds(api: Api, mailbox: MailBox) -> None:
    owner = api.register("shop-a")
    api.post("/api/v1/public/account/register", headers={"X-Tenant": "shop-a"},
             json={"email": "eve@example.com", "password": SECRET, "name": "<b>Eve</b>"})
    assert api.put(f"{BASE}/{NAME}", owner, json={
        "subject": "x", "text": "token={{ token }}", "html": "<p>{{ name }}</p>"}).status_code == 200
    api.post("/api/v1/public/account/password/forgot", headers={"X-Tenant": "shop-a"},
             json={"email": "eve@example.com"})
    html = part(mailbox.to("eve@example.com")[-1], "html")
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html
    # reaching into Python internals compiles, but the sandbox refuses it when rendering:
    # the default mail goes out instead
    evil = "{{ name.__class__.__mro__[1].__subclasses__() }} token={{ token }}"
    assert api.put(f"{BASE}/{NAME}", owner, json={"subject": "x", "text": evil}).status_code == 200
    api.post("/api/v1/public/account/password/forgot", headers={"X-Tenant": "shop-a"},
             json={"email": "eve@example.com"})
    body = part(mailbox.to("eve@example.com")[-1], "plain")
    assert "subclasses" not in body and "<class" not in body
    assert "token=" in body and "Someone asked to reset" in body


def test_bad_templates_are_refused_and_store_nothing(api: Api, app: Flask) -> None:
    owner = api.register()
    before = row_counts(app)
    for body, part in (({"subject": "{{ oops", "text": "x"}, "subject"),
                       ({"subject": "x", "text": "{{ password }}"}, "text"),
                       ({"subject": "x", "text": "x", "html": "{% for %}"}, "html")):
        problem = assert_problem(api.put(f"{BASE}/{NAME}", owner, json=body), 422)
        assert problem["errors"][0]["field"] == part
    assert_problem(api.put(f"{BASE}/{NAME}", owner, json={"subject": "x"}), 422)
    assert_problem(api.put(f"{BASE}/{NAME}", owner, json={"subject": "x", "text": "y", "js": 1}), 422)
    assert_problem(api.put(f"{BASE}/nope", owner, json={"subject": "x", "text": "y"}), 404)
    assert row_counts(app) == before


def test_reset_to_default_and_permissions(api: Api) -> None:
    owner = api.register()
    manager = api.add_member(owner, "m@example.com", "manager")
    assert api.get(f"{BASE}/{NAME}", manager).status_code == 200
    assert_problem(api.put(f"{BASE}/{NAME}", manager, json={"subject": "x", "text": "y"}), 403)
    assert api.put(f"{BASE}/{NAME}", owner, json={"subject": "x", "text": "y"}).status_code == 200
    assert_problem(api.delete(f"{BASE}/{NAME}", manager), 403)
    assert api.delete(f"{BASE}/{NAME}", owner).status_code == 204
    assert api.get(f"{BASE}/{NAME}", owner).get_json()["overridden"] is False
