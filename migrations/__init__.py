"""Alembic environment and the kernel's own migration versions."""
