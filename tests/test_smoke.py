from tests.helpers import Api


def test_register_login_me(api: Api) -> None:
    acct = api.register("acme")
    resp = api.get("/api/v1/auth/me", acct)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["tenant"]["slug"] == "acme"
    assert body["role"] == "owner"
