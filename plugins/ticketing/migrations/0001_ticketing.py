"""ticketing: events, ticket types, quotas, orders, tickets, check-in lists and check-ins

Revision ID: ticketing_0001
Revises:
Create Date: 2026-11-30
"""


import sqlalchemy as sa
from alembic import op

from kernel.api import disable_tenant_rls, enable_tenant_rls

revision = "ticketing_0001"
down_revision = None
branch_labels = ("ticketing",)
depends_on = "0005_customers"

TENANT_OWNED = ("ticketing_events", "ticketing_ticket_types", "ticketing_quotas",
                "ticketing_quota_members", "ticketing_orders", "ticketing_tickets",
                "ticketing_checkin_lists", "ticketing_checkins")


def upgrade() -> None:
    op.create_table('ticketing_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('venue', sa.String(length=300), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cover_key', sa.String(length=300), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticketing_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticketing_events')),
    sa.UniqueConstraint('tenant_id', 'slug', name=op.f('uq_ticketing_events_tenant_id_slug'))
    )
    op.create_index(op.f('ix_ticketing_events_tenant_id'), 'ticketing_events', ['tenant_id'], unique=False)
    op.create_table('ticketing_checkin_lists',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('all_types', sa.Boolean(), nullable=False),
    sa.Column('ticket_type_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['ticketing_events.id'], name=op.f('fk_ticketing_checkin_lists_event_id_ticketing_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticketing_checkin_lists_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticketing_checkin_lists'))
    )
    op.create_index(op.f('ix_ticketing_checkin_lists_event_id'), 'ticketing_checkin_lists', ['event_id'], unique=False)
    op.create_index(op.f('ix_ticketing_checkin_lists_tenant_id'), 'ticketing_checkin_lists', ['tenant_id'], unique=False)
    op.create_table('ticketing_orders',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payment_id', sa.String(length=64), nullable=True),
    sa.Column('payment_provider', sa.String(length=40), nullable=True),
    sa.Column('refunded_amount', sa.BigInteger(), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_ticketing_orders_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['ticketing_events.id'], name=op.f('fk_ticketing_orders_event_id_ticketing_events'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticketing_orders_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticketing_orders')),
    sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_ticketing_orders_tenant_id_code'))
    )
    op.create_index(op.f('ix_ticketing_orders_customer_id'), 'ticketing_orders', ['customer_id'], unique=False)
    op.create_index('ix_ticketing_orders_status_expires_at', 'ticketing_orders', ['status', 'expires_at'], unique=False)
    op.create_index('ix_ticketing_orders_tenant_event_status', 'ticketing_orders', ['tenant_id', 'event_id', 'status'], unique=False)
    op.create_index(op.f('ix_ticketing_orders_tenant_id'), 'ticketing_orders', ['tenant_id'], unique=False)
    op.create_table('ticketing_ticket_types',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('price_amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('min_per_order', sa.Integer(), nullable=False),
    sa.Column('max_per_order', sa.Integer(), nullable=False),
    sa.Column('sales_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sales_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['ticketing_events.id'], name=op.f('fk_ticketing_ticket_types_event_id_ticketing_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticketing_ticket_types_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticketing_ticket_types'))
    )
    op.create_index(op.f('ix_ticketing_ticket_types_event_id'), 'ticketing_ticket_types', ['event_id'], unique=False)
    op.create_index(op.f('ix_ticketing_ticket_types_tenant_id'), 'ticketing_ticket_types', ['tenant_id'], unique=False)
    op.create_table('ticketing_quotas',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sold', sa.Integer(), nullable=False),
    sa.Column('ticket_type_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['ticketing_events.id'], name=op.f('fk_ticketing_quotas_event_id_ticketing_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticketing_quotas_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_type_id'], ['ticketing_ticket_types.id'], name=op.f('fk_ticketing_quotas_ticket_type_id_ticketing_ticket_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticketing_quotas')),
    sa.UniqueConstraint('ticket_type_id', name=op.f('uq_ticketing_quotas_ticket_type_id'))
    )
    op.create_index(op.f('ix_ticketing_quotas_event_id'), 'ticketing_quotas', ['event_id'], unique=False)
    op.create_index(op.f('ix_ticketing_quotas_tenant_id'), 'ticketing_quotas', ['tenant_id'], unique=False)
    op.create_table('ticketing_tickets',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_type_id', sa.Uuid(), nullable=False),
    sa.Column('price_amount', sa.BigInteger(), nullable=False),
    sa.Column('attendee_name', sa.String(length=200), nullable=True),
    sa.Column('attendee_email', sa.String(length=320), nullable=True),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['ticketing_events.id'], name=op.f('fk_ticketing_tickets_event_id_ticketing_events'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['ticketing_orders.id'], name=op.f('fk_ticketing_tickets_order_id_ticketing_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticketing_tickets_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_type_id'], ['ticketing_ticket_types.id'], name=op.f('fk_ticketing_tickets_ticket_type_id_ticketing_ticket_types'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticketing_tickets')),
    sa.UniqueConstraint('secret', name=op.f('uq_ticketing_tickets_secret'))
    )
    op.create_index(op.f('ix_ticketing_tickets_event_id'), 'ticketing_tickets', ['event_id'], unique=False)
    op.create_index(op.f('ix_ticketing_tickets_order_id'), 'ticketing_tickets', ['order_id'], unique=False)
    op.create_index(op.f('ix_ticketing_tickets_tenant_id'), 'ticketing_tickets', ['tenant_id'], unique=False)
    op.create_index('ix_ticketing_tickets_tenant_type', 'ticketing_tickets', ['tenant_id', 'ticket_type_id'], unique=False)
    op.create_table('ticketing_checkins',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('nonce', sa.String(length=100), nullable=False),
    sa.Column('list_id', sa.Uuid(), nullable=True),
    sa.Column('ticket_id', sa.Uuid(), nullable=True),
    sa.Column('result', sa.String(length=24), nullable=False),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['ticketing_checkin_lists.id'], name=op.f('fk_ticketing_checkins_list_id_ticketing_checkin_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticketing_checkins_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticketing_tickets.id'], name=op.f('fk_ticketing_checkins_ticket_id_ticketing_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticketing_checkins')),
    sa.UniqueConstraint('tenant_id', 'nonce', name=op.f('uq_ticketing_checkins_tenant_id_nonce'))
    )
    op.create_index(op.f('ix_ticketing_checkins_list_id'), 'ticketing_checkins', ['list_id'], unique=False)
    op.create_index(op.f('ix_ticketing_checkins_tenant_id'), 'ticketing_checkins', ['tenant_id'], unique=False)
    op.create_index(op.f('ix_ticketing_checkins_ticket_id'), 'ticketing_checkins', ['ticket_id'], unique=False)
    op.create_table('ticketing_quota_members',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('quota_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_type_id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['quota_id'], ['ticketing_quotas.id'], name=op.f('fk_ticketing_quota_members_quota_id_ticketing_quotas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticketing_quota_members_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_type_id'], ['ticketing_ticket_types.id'], name=op.f('fk_ticketing_quota_members_ticket_type_id_ticketing_ticket_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticketing_quota_members')),
    sa.UniqueConstraint('quota_id', 'ticket_type_id', name=op.f('uq_ticketing_quota_members_quota_id_ticket_type_id'))
    )
    op.create_index(op.f('ix_ticketing_quota_members_quota_id'), 'ticketing_quota_members', ['quota_id'], unique=False)
    op.create_index(op.f('ix_ticketing_quota_members_tenant_id'), 'ticketing_quota_members', ['tenant_id'], unique=False)
    op.create_index(op.f('ix_ticketing_quota_members_ticket_type_id'), 'ticketing_quota_members', ['ticket_type_id'], unique=False)
    for table in TENANT_OWNED:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_OWNED:
        disable_tenant_rls(table)
    op.drop_index(op.f('ix_ticketing_quota_members_ticket_type_id'), table_name='ticketing_quota_members')
    op.drop_index(op.f('ix_ticketing_quota_members_tenant_id'), table_name='ticketing_quota_members')
    op.drop_index(op.f('ix_ticketing_quota_members_quota_id'), table_name='ticketing_quota_members')
    op.drop_table('ticketing_quota_members')
    op.drop_index(op.f('ix_ticketing_checkins_ticket_id'), table_name='ticketing_checkins')
    op.drop_index(op.f('ix_ticketing_checkins_tenant_id'), table_name='ticketing_checkins')
    op.drop_index(op.f('ix_ticketing_checkins_list_id'), table_name='ticketing_checkins')
    op.drop_table('ticketing_checkins')
    op.drop_index('ix_ticketing_tickets_tenant_type', table_name='ticketing_tickets')
    op.drop_index(op.f('ix_ticketing_tickets_tenant_id'), table_name='ticketing_tickets')
    op.drop_index(op.f('ix_ticketing_tickets_order_id'), table_name='ticketing_tickets')
    op.drop_index(op.f('ix_ticketing_tickets_event_id'), table_name='ticketing_tickets')
    op.drop_table('ticketing_tickets')
    op.drop_index(op.f('ix_ticketing_quotas_tenant_id'), table_name='ticketing_quotas')
    op.drop_index(op.f('ix_ticketing_quotas_event_id'), table_name='ticketing_quotas')
    op.drop_table('ticketing_quotas')
    op.drop_index(op.f('ix_ticketing_ticket_types_tenant_id'), table_name='ticketing_ticket_types')
    op.drop_index(op.f('ix_ticketing_ticket_types_event_id'), table_name='ticketing_ticket_types')
    op.drop_table('ticketing_ticket_types')
    op.drop_index(op.f('ix_ticketing_orders_tenant_id'), table_name='ticketing_orders')
    op.drop_index('ix_ticketing_orders_tenant_event_status', table_name='ticketing_orders')
    op.drop_index('ix_ticketing_orders_status_expires_at', table_name='ticketing_orders')
    op.drop_index(op.f('ix_ticketing_orders_customer_id'), table_name='ticketing_orders')
    op.drop_table('ticketing_orders')
    op.drop_index(op.f('ix_ticketing_checkin_lists_tenant_id'), table_name='ticketing_checkin_lists')
    op.drop_index(op.f('ix_ticketing_checkin_lists_event_id'), table_name='ticketing_checkin_lists')
    op.drop_table('ticketing_checkin_lists')
    op.drop_index(op.f('ix_ticketing_events_tenant_id'), table_name='ticketing_events')
    op.drop_table('ticketing_events')
