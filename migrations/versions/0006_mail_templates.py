"""mail template overrides per tenant

Revision ID: 0006_mail_templates
Revises: 0005_customers
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

revision: str = '0006_mail_templates'
down_revision: str | Sequence[str] | None = '0005_customers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mail_template_overrides',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_mail_template_overrides_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_template_overrides')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_mail_template_overrides_tenant_id_name'))
    )
    op.create_index(op.f('ix_mail_template_overrides_tenant_id'), 'mail_template_overrides', ['tenant_id'], unique=False)
    enable_tenant_rls('mail_template_overrides')


def downgrade() -> None:
    disable_tenant_rls('mail_template_overrides')
    op.drop_table('mail_template_overrides')
