"""Market data tables: instruments, prices, benchmark sector weights, ETF holdings, positions.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("sector", sa.String(64)),
        sa.Column("industry", sa.String(128)),
        sa.Column("market_cap", sa.Double()),
        sa.Column("asset_type", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name="pk_instruments"),
    )
    op.create_table(
        "prices",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("open", sa.Double()),
        sa.Column("high", sa.Double()),
        sa.Column("low", sa.Double()),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("adj_close", sa.Double()),
        sa.Column("volume", sa.BigInteger()),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("date", "symbol", name="pk_prices"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "benchmarks_sector_weights",
        sa.Column("benchmark", sa.String(32), nullable=False),
        sa.Column("asof_date", sa.Date(), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "benchmark", "asof_date", "sector", name="pk_benchmarks_sector_weights"
        ),
    )
    op.create_table(
        "etf_holdings",
        sa.Column("etf", sa.String(32), nullable=False),
        sa.Column("asof_date", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("etf", "asof_date", "symbol", name="pk_etf_holdings"),
    )
    op.create_table(
        "portfolio_positions",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("cost_basis", sa.Double()),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "symbol", name="pk_portfolio_positions"),
    )


def downgrade() -> None:
    op.drop_table("portfolio_positions")
    op.drop_table("etf_holdings")
    op.drop_table("benchmarks_sector_weights")
    op.drop_table("prices")
    op.drop_table("instruments")
