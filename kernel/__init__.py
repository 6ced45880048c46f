"""Plugboard's kernel: auth, tenancy, the plugin registry and what plugins build on.

``create_app`` is the entry point (``gunicorn 'kernel:create_app()'``); plugins import
from :mod:`kernel.api` only.
"""

from kernel.app import create_app

__all__ = ["create_app"]
