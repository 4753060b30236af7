"""Risk tables: position_market_betas, position_volatility, portfolio_snapshots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "position_market_betas",
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("calc_date", sa.Date(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("market_index", sa.String(32), nullable=False),
        sa.Column("beta", sa.Double()),
        sa.Column("beta_raw", sa.Double()),
        sa.Column("capped", sa.Boolean(), nullable=False),
        sa.Column("alpha", sa.Double()),
        sa.Column("r_squared", sa.Double()),
        sa.Column("std_error", sa.Double()),
        sa.Column("t_stat", sa.Double()),
        sa.Column("p_value", sa.Double()),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "symbol", "calc_date", "method", "window_days", name="pk_position_market_betas"
        ),
    )
    op.create_index("ix_position_market_betas_calc_date", "position_market_betas", ["calc_date"])
    op.create_table(
        "position_volatility",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("calc_date", sa.Date(), nullable=False),
        sa.Column("realized_vol_21d", sa.Double()),
        sa.Column("realized_vol_63d", sa.Double()),
        sa.Column("har_rv_daily", sa.Double()),
        sa.Column("har_rv_weekly", sa.Double()),
        sa.Column("har_rv_monthly", sa.Double()),
        sa.Column("expected_vol_21d", sa.Double()),
        sa.Column("expected_variance_raw", sa.Double()),
        sa.Column("forecast_capped", sa.Boolean(), nullable=False),
        sa.Column("cap_reason", sa.String(16), nullable=False),
        sa.Column("har_r_squared", sa.Double()),
        sa.Column("har_observations", sa.Integer(), nullable=False),
        sa.Column("har_status", sa.String(24), nullable=False),
        sa.Column("vol_trend", sa.String(16)),
        sa.Column("vol_trend_strength", sa.Double()),
        sa.Column("vol_percentile", sa.Double()),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "symbol", "calc_date", name="pk_position_volatility"),
    )
    op.create_index("ix_position_volatility_calc_date", "position_volatility", ["calc_date"])
    op.create_table(
        "portfolio_snapshots",
        sa.Column("calc_date", sa.Date(), nullable=False),
        sa.Column("market_index", sa.String(32)),
        sa.Column("market_beta_weighted", sa.Double()),
        sa.Column("market_beta_r_squared", sa.Double()),
        sa.Column("market_beta_observations", sa.Integer()),
        sa.Column("market_beta_coverage", sa.Double()),
        sa.Column("market_beta_direct", sa.Double()),
        sa.Column("market_beta_direct_r_squared", sa.Double()),
        sa.Column("market_beta_direct_observations", sa.Integer()),
        sa.Column("sector_exposure", sa.JSON()),
        sa.Column("sector_look_through", sa.Boolean()),
        sa.Column("benchmark", sa.String(32)),
        sa.Column("benchmark_asof", sa.Date()),
        sa.Column("largest_overweight_sector", sa.String(64)),
        sa.Column("largest_overweight", sa.Double()),
        sa.Column("largest_underweight_sector", sa.String(64)),
        sa.Column("largest_underweight", sa.Double()),
        sa.Column("largest_active_weight", sa.Double()),
        sa.Column("unclassified_weight", sa.Double()),
        sa.Column("positions", sa.Integer()),
        sa.Column("hhi", sa.Double()),
        sa.Column("effective_positions", sa.Double()),
        sa.Column("top3_weight", sa.Double()),
        sa.Column("top3_symbols", sa.JSON()),
        sa.Column("top10_weight", sa.Double()),
        sa.Column("top10_symbols", sa.JSON()),
        sa.Column("portfolio_return", sa.Double()),
        sa.Column("return_coverage", sa.Double()),
        sa.Column("unpriced_holdings", sa.JSON()),
        sa.Column("realized_volatility_21d", sa.Double()),
        sa.Column("realized_volatility_63d", sa.Double()),
        sa.Column("expected_volatility_21d", sa.Double()),
        sa.Column("volatility_trend", sa.String(16)),
        sa.Column("volatility_trend_strength", sa.Double()),
        sa.Column("volatility_percentile", sa.Double()),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("calc_date", name="pk_portfolio_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("portfolio_snapshots")
    op.drop_index("ix_position_volatility_calc_date", table_name="position_volatility")
    op.drop_table("position_volatility")
    op.drop_index("ix_position_market_betas_calc_date", table_name="position_market_betas")
    op.drop_table("position_market_betas")
