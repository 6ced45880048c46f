"""Plugboard's distribution namespace: ``plugboard.testing`` is the plugin-author harness."""
