"""purchases: customer-linked money rows

Revision ID: purchases_0001
Revises:
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

revision = "purchases_0001"
down_revision = None
branch_labels = ("purchases",)
depends_on = "0001_kernel"


def upgrade() -> None:
    op.create_table(
        "purchases_rows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("buyer_email", sa.String(length=320), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_purchases_rows_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases_rows")),
    )
    op.create_index(op.f("ix_purchases_rows_tenant_id"), "purchases_rows", ["tenant_id"])
    op.create_index(op.f("ix_purchases_rows_customer_id"), "purchases_rows", ["customer_id"])
    enable_tenant_rls("purchases_rows")


def downgrade() -> None:
    disable_tenant_rls("purchases_rows")
    op.drop_table("purchases_rows")
