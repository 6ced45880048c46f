"""comms: a text's send is claimed once (send_started_at), so a sweep can re-send lost ones

Revision ID: comms_0002
Revises: comms_0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "comms_0002"
down_revision = "comms_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("comms_messages", sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("comms_messages", "send_started_at")
