"""pages: pages and page_versions

Revision ID: pages_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from kernel.api import disable_tenant_rls, enable_tenant_rls

revision = "pages_0001"
down_revision = None
branch_labels = ("pages",)
depends_on = "0001_kernel"

TENANT_OWNED = ("pages", "page_versions")


def upgrade() -> None:
    op.create_table(
        "pages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        # json, not jsonb: keeps the editor's document as written (key order included)
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_pages_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint("tenant_id", "path", name=op.f("uq_pages_tenant_id_path")),
    )
    op.create_index(op.f("ix_pages_tenant_id"), "pages", ["tenant_id"], unique=False)
    op.create_table(
        "page_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("page_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("draft_version", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"],
                                name=op.f("fk_page_versions_page_id_pages"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_page_versions_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_versions")),
        sa.UniqueConstraint("tenant_id", "page_id", "number",
                            name=op.f("uq_page_versions_tenant_id_page_id_number")),
    )
    op.create_index(op.f("ix_page_versions_page_id"), "page_versions", ["page_id"], unique=False)
    op.create_index(op.f("ix_page_versions_tenant_id"), "page_versions", ["tenant_id"], unique=False)
    for table in TENANT_OWNED:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TENANT_OWNED:
        disable_tenant_rls(table)
    op.drop_index(op.f("ix_page_versions_tenant_id"), table_name="page_versions")
    op.drop_index(op.f("ix_page_versions_page_id"), table_name="page_versions")
    op.drop_table("page_versions")
    op.drop_index(op.f("ix_pages_tenant_id"), table_name="pages")
    op.drop_table("pages")
