"""number sequences: gapless numbers people read (orders, invoices), per tenant

Revision ID: 0008_number_sequences
Revises: 0007_idempotency
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

TENANT_OWNED = ("number_sequences",)

revision: str = "0008_number_sequences"
down_revision: str | Sequence[str] | None = "0007_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "number_sequences",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_number_sequences_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_number_sequences")),
    )
    with op.batch_alter_table("number_sequences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_number_sequences_tenant_id"), ["tenant_id"], unique=False)
    for table in TENANT_OWNED:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_OWNED:
        disable_tenant_rls(table)
    with op.batch_alter_table("number_sequences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_number_sequences_tenant_id"))
    op.drop_table("number_sequences")
