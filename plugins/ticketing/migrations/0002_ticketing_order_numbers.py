"""ticketing: orders get a gapless number per tenant when they are paid

Revision ID: ticketing_0002
Revises: ticketing_0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "ticketing_0002"
down_revision = "ticketing_0001"
branch_labels = None
# No depends_on the kernel's 0008 (number_sequences): this only adds a column, and a
# dependency on a kernel head would fold that head into this branch's version row.
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticketing_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint("uq_ticketing_orders_tenant_id_number", ["tenant_id", "number"])


def downgrade() -> None:
    with op.batch_alter_table("ticketing_orders", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ticketing_orders_tenant_id_number", type_="unique")
        batch_op.drop_column("number")
