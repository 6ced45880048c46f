"""plugin bundles: versions, default per plugin, per-tenant pins

Revision ID: 0004_bundles
Revises: 0003_jobs_events
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

TENANT_OWNED = ("bundle_pins",)

revision: str = '0004_bundles'
down_revision: str | Sequence[str] | None = '0003_jobs_events'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bundle_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('plugin', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('files', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundle_versions')),
    sa.UniqueConstraint('plugin', 'version', name=op.f('uq_bundle_versions_plugin_version'))
    )
    op.create_table('bundle_pins',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('plugin', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['plugin', 'version'], ['bundle_versions.plugin', 'bundle_versions.version'], name=op.f('fk_bundle_pins_plugin_bundle_versions')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_bundle_pins_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundle_pins')),
    sa.UniqueConstraint('tenant_id', 'plugin', name=op.f('uq_bundle_pins_tenant_id_plugin'))
    )
    with op.batch_alter_table('bundle_pins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bundle_pins_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('bundle_rollouts',
    sa.Column('plugin', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['plugin', 'version'], ['bundle_versions.plugin', 'bundle_versions.version'], name=op.f('fk_bundle_rollouts_plugin_bundle_versions')),
    sa.PrimaryKeyConstraint('plugin', name=op.f('pk_bundle_rollouts'))
    )
    for table in TENANT_OWNED:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_OWNED:
        disable_tenant_rls(table)
    op.drop_table('bundle_rollouts')
    with op.batch_alter_table('bundle_pins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bundle_pins_tenant_id'))

    op.drop_table('bundle_pins')
    op.drop_table('bundle_versions')
