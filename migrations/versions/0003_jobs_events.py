"""jobs and events

Revision ID: 0003_jobs_events
Revises: 0002_plugin_activations
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kernel.data.rls import disable_tenant_rls, enable_tenant_rls

TENANT_OWNED = ("job_runs", "outbox_events", "event_deliveries")

revision: str = '0003_jobs_events'
down_revision: str | Sequence[str] | None = '0002_plugin_activations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('job', sa.String(length=120), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=True),
    sa.Column('kwargs', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('rq_job_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_job_runs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('key', name=op.f('uq_job_runs_key'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_runs_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('outbox_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_outbox_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events'))
    )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_events_dispatched_at'), ['dispatched_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_events_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('event_deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('plugin', sa.String(length=40), nullable=False),
    sa.Column('handler', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name=op.f('fk_event_deliveries_event_id_outbox_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_event_deliveries_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_deliveries')),
    sa.UniqueConstraint('event_id', 'handler', name=op.f('uq_event_deliveries_event_id_handler'))
    )
    with op.batch_alter_table('event_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_deliveries_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_deliveries_tenant_id'), ['tenant_id'], unique=False)
    for table in TENANT_OWNED:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_OWNED:
        disable_tenant_rls(table)
    with op.batch_alter_table('event_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_deliveries_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_event_deliveries_status'))

    op.drop_table('event_deliveries')
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_events_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_events_dispatched_at'))

    op.drop_table('outbox_events')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_runs_tenant_id'))
        batch_op.drop_index('ix_job_runs_status_created')

    op.drop_table('job_runs')
