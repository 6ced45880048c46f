"""Roles and permissions: which tenant role may do what.

Roles are ordered (owner > admin > manager > support > analyst). Kernel permissions
are declared here; plugins add theirs with :func:`register_permission`, naming the
lowest role that gets it by default.
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("owner", "admin", "manager", "support", "analyst")
_RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}

# permission -> lowest role that holds it
KERNEL_PERMISSIONS: dict[str, str] = {
    "tenant.read": "analyst",
    "tenant.write": "admin",
    "members.read": "support",
    "members.write": "admin",
    "domains.read": "support",
    "domains.write": "admin",
    "api_keys.read": "admin",
    "api_keys.write": "admin",
    "plugins.read": "analyst",
    "plugins.write": "admin",
    "audit.read": "admin",
    "customers.read": "support",
    "customers.write": "manager",
    "customers.export": "admin",
    "customers.erase": "admin",
}


class Permissions:
    """The permission table of one app (kernel's plus those plugins declared)."""

    def __init__(self) -> None:
        self._lowest_role: dict[str, str] = dict(KERNEL_PERMISSIONS)

    def register(self, name: str, lowest_role: str) -> None:
        check_role(name, lowest_role)
        self._lowest_role[name] = lowest_role

    def allows(self, role: str, permission: str) -> bool:
        lowest = self._lowest_role.get(permission)
        if lowest is None:
            raise KeyError(f"Unknown permission {permission!r}; declare it before use.")
        return role_at_least(role, lowest)

    def of_role(self, role: str) -> list[str]:
        return sorted(p for p, lowest in self._lowest_role.items() if role_at_least(role, lowest))


def role_at_least(role: str, other: str) -> bool:
    """True when ``role`` ranks at or above ``other``."""
    return _RANK.get(role, -1) >= _RANK[other]


def check_role(permission: str, role: str) -> None:
    """``ValueError`` unless ``role`` (the lowest role given ``permission``) is a real role."""
    if role not in _RANK:
        raise ValueError(f"Permission {permission!r} names unknown role {role!r}; "
                         f"use one of {', '.join(ROLES)}.")


def may_grant(actor_role: str | None, role: str) -> bool:
    """Nobody grants (a membership, an API key) or manages a role above their own."""
    return actor_role is not None and role_at_least(actor_role, role)
