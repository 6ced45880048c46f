"""plugin activations

Revision ID: 0002_plugin_activations
Revises: 0001_kernel
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0002_plugin_activations"
down_revision: str | Sequence[str] | None = "0001_kernel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plugin_activations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plugin", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("installed_version", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_plugin_activations_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_activations")),
        sa.UniqueConstraint("tenant_id", "plugin", name=op.f("uq_plugin_activations_tenant_id_plugin")),
    )
    with op.batch_alter_table("plugin_activations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plugin_activations_tenant_id"), ["tenant_id"], unique=False)
    enable_tenant_rls("plugin_activations")


def downgrade() -> None:
    disable_tenant_rls("plugin_activations")
    with op.batch_alter_table("plugin_activations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plugin_activations_tenant_id"))
    op.drop_table("plugin_activations")
