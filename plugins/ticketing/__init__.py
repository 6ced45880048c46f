"""The built-in ``ticketing`` plugin: events, tickets, shared quotas, orders that never
oversell, and check-in."""

from plugins.ticketing import plugin

__all__ = ["plugin"]
