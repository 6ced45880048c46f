"""The comms config: nested secrets, one sender, and the webhook URLs staff copy."""

from __future__ import annotations

from tests.helpers import Account, Api, assert_problem
from tests.plugins.comms.conftest import AUTH_TOKEN, VAPI_KEY, VAPI_SECRET, config, tenant_id


def test_nested_secrets_are_masked(api: Api, owner: Account) -> None:
    shown = api.get("/api/v1/plugins/comms/config", owner).get_data(as_text=True)
    for secret in (AUTH_TOKEN, VAPI_KEY, VAPI_SECRET):
        assert secret not in shown


def test_config_is_validated(api: Api, owner: Account) -> None:
    both = config(twilio={**config()["twilio"], "messaging_service_sid": "MG" + "2" * 32})
    assert_problem(api.put("/api/v1/plugins/comms/config", owner, json=both), 422)
    bad_sid = config(twilio={**config()["twilio"], "account_sid": "nope"})
    assert_problem(api.put("/api/v1/plugins/comms/config", owner, json=bad_sid), 422)
    assert_problem(api.put("/api/v1/plugins/comms/config", owner, json=config(sms_per_second=0)), 422)
    assert_problem(api.put("/api/v1/plugins/comms/config", owner, json=config(extra=1)), 422)


def test_setup_shows_the_webhook_urls(api: Api, owner: Account) -> None:
    setup = api.get("/api/v1/comms/setup", owner).get_json()
    tid = tenant_id(api, owner)
    assert setup["twilio_status_callback"].endswith(f"/api/v1/webhooks/comms/twilio/{tid}/status")
    assert setup["twilio_inbound"].endswith(f"/api/v1/webhooks/comms/twilio/{tid}/inbound")
    assert setup["vapi_server_url"].endswith(f"/api/v1/webhooks/comms/vapi/{tid}")
    assert setup["twilio_configured"] and setup["vapi_configured"]
