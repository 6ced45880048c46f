"""full: notes table

Revision ID: full_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

revision = "full_0001"
down_revision = None
branch_labels = ("full",)
depends_on = "0001_kernel"


def upgrade() -> None:
    op.create_table(
        "full_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_full_notes_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_full_notes")),
    )
    op.create_index(op.f("ix_full_notes_tenant_id"), "full_notes", ["tenant_id"], unique=False)
    enable_tenant_rls("full_notes")


def downgrade() -> None:
    disable_tenant_rls("full_notes")
    op.drop_index(op.f("ix_full_notes_tenant_id"), table_name="full_notes")
    op.drop_table("full_notes")
