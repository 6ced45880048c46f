"""The built-in ``billing`` plugin: the platform bills its tenants (plans, usage, invoices,
credits, dunning, suspension)."""

from plugins.billing import plugin

__all__ = ["plugin"]
