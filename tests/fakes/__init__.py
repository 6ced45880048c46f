"""Fake provider servers on loopback, one module per provider, shared by every plugin's tests.

Each is a real HTTP server in a thread; the tests point the provider's official SDK at
it, so the SDK's own request building, auth and error handling run for real.
"""
