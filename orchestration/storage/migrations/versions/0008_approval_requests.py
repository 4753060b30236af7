"""Approval requests: an agent on the MCP server asks a person to approve a previewed group.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trade_approval_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["basket_trade_groups.id"],
            name="fk_trade_approval_requests_group_id_basket_trade_groups",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_trade_approval_requests"),
    )
    op.create_index(
        "ix_trade_approval_requests_group_id",
        "trade_approval_requests",
        ["group_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_trade_approval_requests_group_id", table_name="trade_approval_requests")
    op.drop_table("trade_approval_requests")
