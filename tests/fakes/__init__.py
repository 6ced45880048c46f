"""Fake provider servers on loopback, shared by every plugin's tests.

Each fake speaks enough of its provider's real HTTP API for the provider's official SDK
to talk to it unchanged (only the SDK's base address is pointed here), and signs what it
sends with the provider's real algorithm. Start them through the session fixtures in
:mod:`tests.fakes.fixtures` (registered in ``tests/conftest.py``).
"""
