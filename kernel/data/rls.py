"""PostgreSQL row-level security for tenant-owned tables, for use in migrations.

``enable_tenant_rls("my_table")`` in a plugin's migration makes PostgreSQL itself refuse
rows of other tenants, so a forgotten filter (or raw SQL) cannot leak. The session sets
``plugboard.tenant_id`` / ``plugboard.all_tenants`` before every statement whose scope wants
other ones than its connection holds (see :func:`kernel.data.scoping.keep_settings_in_step`).
No-op on other databases.
"""

from __future__ import annotations

from alembic import op

POLICY = "tenant_isolation"
CONDITION = (
    "current_setting('plugboard.all_tenants', true) = 'on' "
    "OR tenant_id = nullif(current_setting('plugboard.tenant_id', true), '')::uuid"
)


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def enable_tenant_rls(table: str) -> None:
    """Turn on (and force, so the table owner obeys too) the tenant isolation policy."""
    if not _postgres():
        return
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(f'CREATE POLICY {POLICY} ON "{table}" USING ({CONDITION}) WITH CHECK ({CONDITION})')


def disable_tenant_rls(table: str) -> None:
    if not _postgres():
        return
    op.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
    op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
