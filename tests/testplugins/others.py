"""Small test plugins for dependencies, restriction, notifications and load failures."""

from __future__ import annotations

import types
import uuid
from typing import Any

from hookspecs import PluginInfo, hookimpl


def make(name: str, **info: Any) -> types.ModuleType:
    """A plugin object (a module, as most plugins are) with just a manifest."""
    module = types.ModuleType(f"testplugin_{name}")
    module.plugin_info = PluginInfo(name=name, version=info.pop("version", "1.0.0"), **info)  # type: ignore[attr-defined]
    return module


class Noisy:
    """A plugin whose notification hook always raises (fault isolation)."""

    plugin_info = PluginInfo(name="noisy", version="1.0.0")

    @hookimpl
    def plugboard_activation_changed(self, tenant_id: uuid.UUID, plugin: str) -> None:
        raise RuntimeError("noisy plugin is broken")

    @hookimpl
    def plugboard_resolve_payable(self, kind: str) -> dict[str, Any] | None:
        return {"amount": 1, "currency": "EUR", "description": "noisy"} if kind == "noisy" else None


class Typo:
    plugin_info = PluginInfo(name="typo", version="1.0.0")

    @hookimpl
    def plugboard_blueprint(self) -> list[Any]:  # no such hook
        return []


class BadArgs:
    plugin_info = PluginInfo(name="badargs", version="1.0.0")

    @hookimpl
    def plugboard_tenant_enabled(self, tenant_id: uuid.UUID, nonsense: int) -> None:
        pass


class BadPrefix:
    plugin_info = PluginInfo(name="badprefix", version="1.0.0")

    @hookimpl
    def plugboard_blueprints(self) -> list[Any]:
        from flask_smorest import Blueprint

        return [Blueprint("badprefix", __name__, url_prefix="/api/v1/tenant")]


class NotReady:
    """Serves a route, then fails its one-time set-up (``plugboard_app_ready``)."""

    plugin_info = PluginInfo(name="notready", version="1.0.0")

    @hookimpl
    def plugboard_blueprints(self) -> list[Any]:
        from flask_smorest import Blueprint

        blp = Blueprint("notready", __name__, url_prefix="/api/v1/notready")

        @blp.get("/ping")
        def ping() -> dict[str, Any]:
            return {"pong": True}

        return [blp]

    @hookimpl
    def plugboard_app_ready(self) -> None:
        raise RuntimeError("cache server unreachable")


class Ledger:
    """Handles ``payments.payment.succeeded`` too; writes a note per event (test-only shortcut)."""

    plugin_info = PluginInfo(name="ledger", version="1.0.0")

    @hookimpl
    def plugboard_event_handlers(self) -> list[Any]:
        from hookspecs import EventHandler

        return [EventHandler("payments.payment.succeeded", _ledger_note, name="ledger.record")]


def _ledger_note(event_id: uuid.UUID, payload: dict[str, Any]) -> None:
    import os
    import time

    from kernel.api import db
    from tests.testplugins.full.models import FullNote

    marker = payload.get("block_once")
    if marker and not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(120)  # the test kills the worker while it waits here
    if payload.get("explode"):
        raise RuntimeError("ledger is down")
    db.session.add(FullNote(text=f"ledger:{event_id}"))
