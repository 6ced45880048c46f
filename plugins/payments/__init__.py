"""The built-in ``payments`` plugin: collecting what other plugins are owed, through providers."""

from plugins.payments import plugin

__all__ = ["plugin"]
