"""hello: messages table

Revision ID: hello_0001
Revises:
Create Date: 2026-11-21

The first revision of the plugin's own branch: no down_revision, the branch label is
the plugin's name, and it depends on the kernel's first revision (for ``tenants``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel.api import disable_tenant_rls, enable_tenant_rls

revision: str = "hello_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("hello",)
depends_on: str | Sequence[str] | None = "0001_kernel"


def upgrade() -> None:
    op.create_table(
        "hello_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=280), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_hello_messages_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hello_messages")),
    )
    op.create_index(op.f("ix_hello_messages_tenant_id"), "hello_messages", ["tenant_id"])
    # PostgreSQL then refuses other tenants' rows itself; a no-op on SQLite.
    enable_tenant_rls("hello_messages")


def downgrade() -> None:
    disable_tenant_rls("hello_messages")
    op.drop_index(op.f("ix_hello_messages_tenant_id"), table_name="hello_messages")
    op.drop_table("hello_messages")
