"""Trade performance: transactions, realized trades, positions P&L and their snapshots.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("trade_id", sa.String(length=128), nullable=False),
        sa.Column("datetime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("fees", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "trade_id", name="pk_transactions"),
    )
    op.create_table(
        "realized_trades",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("open_trade_id", sa.String(length=128), nullable=False),
        sa.Column("close_trade_id", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("direction", sa.String(length=5), nullable=False),
        sa.Column("open_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("close_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("holding_days", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("entry_price", sa.Double(), nullable=False),
        sa.Column("exit_price", sa.Double(), nullable=False),
        sa.Column("cost_basis", sa.Double(), nullable=False),
        sa.Column("proceeds", sa.Double(), nullable=False),
        sa.Column("fees", sa.Double(), nullable=False),
        sa.Column("pnl", sa.Double(), nullable=False),
        sa.Column("pnl_pct", sa.Double(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "account", "open_trade_id", "close_trade_id", name="pk_realized_trades"
        ),
    )
    op.create_table(
        "positions_pnl",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("direction", sa.String(length=5), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("shares", sa.Double(), nullable=False),
        sa.Column("cost_basis", sa.Double(), nullable=True),
        sa.Column("entry_price", sa.Double(), nullable=True),
        sa.Column("current_price", sa.Double(), nullable=False),
        sa.Column("price_date", sa.Date(), nullable=False),
        sa.Column("market_value", sa.Double(), nullable=False),
        sa.Column("gross_exposure", sa.Double(), nullable=False),
        sa.Column("net_exposure", sa.Double(), nullable=False),
        sa.Column("pnl_dollars", sa.Double(), nullable=True),
        sa.Column("pnl_percent", sa.Double(), nullable=True),
        sa.Column("entry_price_warning", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "currency", "symbol", name="pk_positions_pnl"),
    )
    op.create_table(
        "trading_performance_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("total_trades", sa.Integer(), nullable=False),
        sa.Column("primary_currency", sa.String(length=3), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trading_performance_snapshots"),
    )
    op.create_table(
        "positions_pnl_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("positions", sa.Integer(), nullable=False),
        sa.Column("primary_currency", sa.String(length=3), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_positions_pnl_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("positions_pnl_snapshots")
    op.drop_table("trading_performance_snapshots")
    op.drop_table("positions_pnl")
    op.drop_table("realized_trades")
    op.drop_table("transactions")
