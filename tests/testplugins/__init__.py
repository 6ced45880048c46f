"""Plugins that exist only for the test suite."""
