"""Plugboard's kernel: auth, tenancy, the plugin registry and what plugins build on.

``create_app`` is the entry point (``gunicorn 'kernel:create_app()'``); plugins import
from :mod:`kernel.api` only. The layers are described in ``docs/architecture.md``.

``create_app`` is loaded on first use, so that importing one kernel module (say
``kernel.tenancy.scope``) does not build the whole app's import graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from kernel.app import create_app

        return create_app
    raise AttributeError(f"module 'kernel' has no attribute {name!r}")
