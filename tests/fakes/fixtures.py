"""Session fixtures starting the fake provider servers (registered in tests/conftest.py).

Each fake runs once per session; a test gets it reset. The SDK addresses are pointed at
the fakes through the environment variables the plugins read
(``PLUGBOARD_PAYMENTS_STRIPE_API_BASE``, ``PLUGBOARD_PAYMENTS_PAYNOW_URL``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.paynow import FakePaynow
from tests.fakes.server import LoopbackServer
from tests.fakes.stripe import FakeStripe


@pytest.fixture(scope="session")
def _stripe_server() -> Iterator[tuple[FakeStripe, str]]:
    fake = FakeStripe()
    with LoopbackServer(fake) as server, pytest.MonkeyPatch.context() as env:
        env.setenv("PLUGBOARD_PAYMENTS_STRIPE_API_BASE", server.url)
        yield fake, server.url


@pytest.fixture
def fake_stripe(_stripe_server: tuple[FakeStripe, str]) -> FakeStripe:
    """The fake Stripe API, emptied; the ``stripe`` SDK of the app talks to it."""
    fake, _ = _stripe_server
    fake.reset()
    return fake


@pytest.fixture(scope="session")
def _paynow_server() -> Iterator[FakePaynow]:
    fake = FakePaynow()
    with LoopbackServer(fake) as server, pytest.MonkeyPatch.context() as env:
        fake.url = server.url
        env.setenv("PLUGBOARD_PAYMENTS_PAYNOW_URL", server.url)
        yield fake


@pytest.fixture
def fake_paynow(_paynow_server: FakePaynow) -> FakePaynow:
    """The fake Paynow server, emptied; the ``paynow`` SDK of the app talks to it."""
    _paynow_server.reset()
    return _paynow_server
