"""The data layer: model base, sessions, tenant scoping of statements, row-level security, migrations.

The bottom layer of the kernel: it imports nothing above it (but :mod:`kernel.tenancy.scope`,
which says which tenant the current code runs as). See ``docs/architecture.md``.
"""
