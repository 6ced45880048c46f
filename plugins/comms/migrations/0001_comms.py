"""comms: messages, status callbacks, templates, opt-outs and calls

Revision ID: comms_0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kernel.api import disable_tenant_rls, enable_tenant_rls

revision = "comms_0001"
down_revision = None
branch_labels = ("comms",)
depends_on = "0001_kernel"

TENANT_OWNED = (
    "comms_messages",
    "comms_status_callbacks",
    "comms_templates",
    "comms_opt_outs",
    "comms_calls",
)
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "comms_calls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_call_id", sa.String(length=64), nullable=True),
        sa.Column("assistant_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("metadata", JSON_TYPE, nullable=False),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("recording_url", sa.String(length=2000), nullable=True),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("cost", sa.Numeric(precision=14, scale=6), nullable=True),
        sa.Column("ended_reason", sa.String(length=120), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_comms_calls_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_calls")),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_comms_calls_tenant_id_idempotency_key")
        ),
        sa.UniqueConstraint(
            "tenant_id", "provider_call_id", name=op.f("uq_comms_calls_tenant_id_provider_call_id")
        ),
    )
    op.create_index("ix_comms_calls_tenant_created", "comms_calls", ["tenant_id", "created_at"], unique=False)
    op.create_index(
        "ix_comms_calls_tenant_customer", "comms_calls", ["tenant_id", "customer_id"], unique=False
    )
    op.create_index(op.f("ix_comms_calls_tenant_id"), "comms_calls", ["tenant_id"], unique=False)
    op.create_table(
        "comms_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("from_number", sa.String(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_comms_messages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_messages")),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_comms_messages_tenant_id_idempotency_key")
        ),
        sa.UniqueConstraint(
            "tenant_id", "provider_sid", name=op.f("uq_comms_messages_tenant_id_provider_sid")
        ),
    )
    op.create_index(
        "ix_comms_messages_tenant_created", "comms_messages", ["tenant_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_comms_messages_tenant_customer", "comms_messages", ["tenant_id", "customer_id"], unique=False
    )
    op.create_index(
        "ix_comms_messages_tenant_from", "comms_messages", ["tenant_id", "from_number"], unique=False
    )
    op.create_index(op.f("ix_comms_messages_tenant_id"), "comms_messages", ["tenant_id"], unique=False)
    op.create_index("ix_comms_messages_tenant_to", "comms_messages", ["tenant_id", "to_number"], unique=False)
    op.create_table(
        "comms_opt_outs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("keyword", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_comms_opt_outs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_opt_outs")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_comms_opt_outs_tenant_id_number")),
    )
    op.create_index(op.f("ix_comms_opt_outs_tenant_id"), "comms_opt_outs", ["tenant_id"], unique=False)
    op.create_table(
        "comms_status_callbacks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_comms_status_callbacks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_status_callbacks")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider_sid",
            "status",
            name=op.f("uq_comms_status_callbacks_tenant_id_provider_sid_status"),
        ),
    )
    op.create_index(
        op.f("ix_comms_status_callbacks_tenant_id"), "comms_status_callbacks", ["tenant_id"], unique=False
    )
    op.create_table(
        "comms_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_comms_templates_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comms_templates")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_comms_templates_tenant_id_name")),
    )
    op.create_index(op.f("ix_comms_templates_tenant_id"), "comms_templates", ["tenant_id"], unique=False)

    for table in TENANT_OWNED:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_OWNED:
        disable_tenant_rls(table)
    for table in reversed(TENANT_OWNED):
        op.drop_table(table)
