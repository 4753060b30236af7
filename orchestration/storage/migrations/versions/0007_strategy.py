"""Strategy: ETF universe, factor scores, target weights, backtests, trade plans; instruments
gain category and expense ratio; trade groups remember the plan they were previewed from.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instruments") as batch:
        batch.add_column(sa.Column("category", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("expense_ratio", sa.Double(), nullable=True))
    with op.batch_alter_table("basket_trade_groups") as batch:
        batch.add_column(sa.Column("trade_plan_id", sa.Integer(), nullable=True))
    op.create_table(
        "strategy_universe",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("asset_type", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=128), nullable=True),
        sa.Column("leveraged_inverse", sa.Boolean(), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "symbol", name="pk_strategy_universe"),
    )
    op.create_table(
        "factor_scores",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("momentum", sa.Double(), nullable=True),
        sa.Column("quality", sa.Double(), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("volatility", sa.Double(), nullable=True),
        sa.Column("combined", sa.Double(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "symbol", name="pk_factor_scores"),
    )
    op.create_table(
        "target_weights",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("combined", sa.Double(), nullable=True),
        sa.Column("category", sa.String(length=128), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "symbol", name="pk_target_weights"),
    )
    op.create_table(
        "backtest_runs",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("stop_loss_events", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("as_of", name="pk_backtest_runs"),
    )
    op.create_table(
        "backtest_equity",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("equity", sa.Double(), nullable=False),
        sa.Column("drawdown", sa.Double(), nullable=False),
        sa.Column("benchmark", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("as_of", "date", name="pk_backtest_equity"),
    )
    op.create_table(
        "trade_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("plan_hash", sa.String(length=64), nullable=False),
        sa.Column("deploy_cash", sa.Double(), nullable=True),
        sa.Column("cash_reserve", sa.Double(), nullable=False),
        sa.Column("buys_total", sa.Double(), nullable=False),
        sa.Column("sells_total", sa.Double(), nullable=False),
        sa.Column("cash_after", sa.Double(), nullable=False),
        sa.Column("transition", sa.JSON(), nullable=False),
        sa.Column("cleanup", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trade_plans"),
    )
    op.create_index("ix_trade_plans_as_of", "trade_plans", ["as_of"])
    op.create_table(
        "trade_plan_trades",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "seq", name="pk_trade_plan_trades"),
    )


def downgrade() -> None:
    op.drop_table("trade_plan_trades")
    op.drop_index("ix_trade_plans_as_of", table_name="trade_plans")
    op.drop_table("trade_plans")
    op.drop_table("backtest_equity")
    op.drop_table("backtest_runs")
    op.drop_table("target_weights")
    op.drop_table("factor_scores")
    op.drop_table("strategy_universe")
    with op.batch_alter_table("basket_trade_groups") as batch:
        batch.drop_column("trade_plan_id")
    with op.batch_alter_table("instruments") as batch:
        batch.drop_column("expense_ratio")
        batch.drop_column("category")
