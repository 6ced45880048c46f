"""customers: one record per person per tenant, storefront refresh and reset tokens

Revision ID: 0005_customers
Revises: 0004_bundles
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

TENANT_OWNED = ("customers", "customer_refresh_tokens", "customer_tokens")

revision: str = '0005_customers'
down_revision: str | Sequence[str] | None = '0004_bundles'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('marketing_consent', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_customers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('tenant_id', 'email', name=op.f('uq_customers_tenant_id_email'))
    )
    op.create_index('ix_customers_tenant_created', 'customers', ['tenant_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_customers_tenant_id'), 'customers', ['tenant_id'], unique=False)
    op.create_index('ix_customers_tenant_phone', 'customers', ['tenant_id', 'phone'], unique=False)
    op.create_table('customer_refresh_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_refresh_tokens_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_customer_refresh_tokens_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_customer_refresh_tokens_token_hash'))
    )
    op.create_index(op.f('ix_customer_refresh_tokens_customer_id'), 'customer_refresh_tokens', ['customer_id'], unique=False)
    op.create_index(op.f('ix_customer_refresh_tokens_family_id'), 'customer_refresh_tokens', ['family_id'], unique=False)
    op.create_index(op.f('ix_customer_refresh_tokens_tenant_id'), 'customer_refresh_tokens', ['tenant_id'], unique=False)
    op.create_table('customer_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_tokens_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_customer_tokens_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_customer_tokens_token_hash'))
    )
    op.create_index(op.f('ix_customer_tokens_customer_id'), 'customer_tokens', ['customer_id'], unique=False)
    op.create_index(op.f('ix_customer_tokens_tenant_id'), 'customer_tokens', ['tenant_id'], unique=False)
    for table in TENANT_OWNED:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_OWNED:
        disable_tenant_rls(table)
    op.drop_table('customer_tokens')
    op.drop_table('customer_refresh_tokens')
    op.drop_table('customers')
