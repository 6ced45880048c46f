"""What the fuzzer and the isolation sweep share: callers with tokens, and the app's spec.

Both walk the app's own OpenAPI document, so a route added by any plugin is covered the
moment it is registered; neither keeps a list of routes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask

from kernel.services import kernel_services
from plugboard.testing.clients import Account, Api

SPEC_PATH = "/api/openapi.json"
METHODS = ("get", "put", "post", "patch", "delete")
ADMIN_PREFIX = "/api/v1/admin"
# Not tenant-owned by design: sign-in, storefronts (tenant from Host or the URL), provider
# webhooks (tenant from the URL or payload), bundle files (public, immutable).
PUBLIC_PREFIXES = ("/api/v1/auth", "/api/v1/public", "/api/v1/webhooks", "/bundles")
PARAM = re.compile(r"{([^}]+)}")


@dataclass(frozen=True)
class Finding:
    """One problem a quality gate found; ``operation`` is e.g. ``GET /api/v1/x/{id}``."""

    operation: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.operation} [{self.check}] {self.message}"


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str  # the OpenAPI template, e.g. /api/v1/tenant/members/{member_id}
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    @property
    def documented(self) -> set[str]:
        return set(self.spec.get("responses", {}))

    @property
    def is_admin(self) -> bool:
        return self.path == ADMIN_PREFIX or self.path.startswith(ADMIN_PREFIX + "/")

    @property
    def is_public(self) -> bool:
        return self.path.startswith(PUBLIC_PREFIXES)


def spec_of(app: Flask) -> dict[str, Any]:
    resp = app.test_client().get(SPEC_PATH)
    assert resp.status_code == 200, resp.status_code
    spec: dict[str, Any] = resp.get_json()
    return spec


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield Operation(method.upper(), path, item[method])


def fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values[m.group(1)], path)


@dataclass
class Callers:
    """Two tenants (every plugin on for both, owners calling) and a platform admin."""

    api: Api
    a: Account
    b: Account
    admin: Account
    plugins: list[str]

    def headers_for(self, op: Operation, account: Account | None = None) -> dict[str, str]:
        if op.is_admin:
            return dict(self.admin.headers)
        headers = dict((account or self.a).headers)
        if op.is_public:
            headers["X-Tenant"] = (account or self.a).tenant_slug
        return headers


def callers(app: Flask) -> Callers:
    """Register tenants A and B, a platform admin, and switch every loaded plugin on for both."""
    registry = kernel_services(app).registry
    failed = {r.name: r.error for r in registry.failures()}
    assert not failed, f"plugins failed to load, so their routes would go unchecked: {failed}"
    api = Api(app.test_client(), app)
    tag = uuid.uuid4().hex[:6]
    a, b = api.register(f"qa-{tag}"), api.register(f"qb-{tag}")
    admin = api.make_admin(f"root-{tag}@platform.example.com")
    names = sorted(r.name for r in registry.loaded())
    for account in (a, b):
        for name in names:
            # a plugin whose creates need configuration (provider credentials) gets the
            # first of its config schema's `examples`, so its objects can be made and probed
            info = registry.get(name).info
            examples = (info.config_schema.get("examples") if info else None) or [None]
            body = {"enabled": True, **({"config": examples[0]} if examples[0] else {})}
            resp = api.put(f"{ADMIN_PREFIX}/tenants/{account.tenant_id}/plugins/{name}", admin,
                           json=body)
            assert resp.status_code == 200, (name, resp.get_json())
    _seed_demo_data(app, a)
    return Callers(api, a, b, admin, names)


def _seed_demo_data(app: Flask, account: Account) -> None:
    """Give A every plugin's demo data: some items are only ever made by jobs (billing's
    invoices), so no create operation of the spec would give the sweep their ids."""
    from kernel.tenancy.scope import tenant_scope

    with app.app_context():
        for seed in kernel_services(app).demo_seeders:
            with tenant_scope(account.tenant_id):
                seed(uuid.UUID(account.tenant_id))
