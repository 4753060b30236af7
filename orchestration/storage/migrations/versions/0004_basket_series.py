"""Basket return series and basket analytics.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "basket_returns",
        sa.Column("basket", sa.String(100), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("daily_return", sa.Double()),
        sa.Column("coverage", sa.Double(), nullable=False),
        sa.Column("rebalance", sa.String(16), nullable=False),
        sa.Column("basket_version", sa.String(16), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("basket", "date", name="pk_basket_returns"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "basket_analytics",
        sa.Column("basket", sa.String(100), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("basket_version", sa.String(16), nullable=False),
        sa.Column("rebalance", sa.String(16), nullable=False),
        sa.Column("risk_free_rate", sa.Double(), nullable=False),
        sa.Column("total_return", sa.Double(), nullable=False),
        sa.Column("annualized_return", sa.Double(), nullable=False),
        sa.Column("annualized_volatility", sa.Double(), nullable=False),
        sa.Column("sharpe", sa.Double()),
        sa.Column("max_drawdown", sa.Double(), nullable=False),
        sa.Column("arithmetic_return", sa.Double(), nullable=False),
        sa.Column("contribution_residual", sa.Double(), nullable=False),
        sa.Column("portfolio_correlation", sa.Double()),
        sa.Column("portfolio_beta", sa.Double()),
        sa.Column("tracking_error", sa.Double()),
        sa.Column("portfolio_observations", sa.Integer()),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("monthly_returns", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("basket", "end_date", name="pk_basket_analytics"),
    )


def downgrade() -> None:
    op.drop_table("basket_analytics")
    op.drop_table("basket_returns")
