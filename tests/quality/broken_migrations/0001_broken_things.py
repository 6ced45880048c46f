"""broken: things table

Revision ID: broken_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

revision = "broken_0001"
down_revision = None
branch_labels = ("broken",)
depends_on = "0001_kernel"


def upgrade() -> None:
    op.create_table(
        "broken_things",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_broken_things_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broken_things")),
    )
    op.create_index(op.f("ix_broken_things_tenant_id"), "broken_things", ["tenant_id"], unique=False)
    enable_tenant_rls("broken_things")


def downgrade() -> None:
    disable_tenant_rls("broken_things")
    op.drop_index(op.f("ix_broken_things_tenant_id"), table_name="broken_things")
    op.drop_table("broken_things")
