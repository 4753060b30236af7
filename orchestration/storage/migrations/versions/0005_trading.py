"""Basket trading: trade groups, legs, orders, fills, halts, reconciliation, paper ledger.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "basket_trade_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("basket_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("requested_value", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ref_token", sa.String(length=16), nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("total_notional", sa.Double(), nullable=False),
        sa.Column("total_commission", sa.Double(), nullable=True),
        sa.Column("estimated_cost", sa.Double(), nullable=False),
        sa.Column("leftover_cash", sa.Double(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("drift_warnings", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("execution_attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_basket_trade_groups"),
    )
    op.create_index(
        "ix_basket_trade_groups_status", "basket_trade_groups", ["status"], unique=False
    )
    op.create_table(
        "broker_fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(length=128), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("commission", sa.Double(), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broker_fills"),
        sa.UniqueConstraint("execution_id", name="uq_broker_fills_execution_id"),
    )
    op.create_index("ix_broker_fills_order_ref", "broker_fills", ["order_ref"], unique=False)
    op.create_table(
        "paper_accounts",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("cash", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", name="pk_paper_accounts"),
    )
    op.create_table(
        "paper_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("order_type", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filled_quantity", sa.Double(), nullable=False),
        sa.Column("average_fill_price", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fill_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_paper_orders"),
    )
    op.create_index("ix_paper_orders_order_ref", "paper_orders", ["order_ref"], unique=False)
    op.create_index("ix_paper_orders_status", "paper_orders", ["status"], unique=False)
    op.create_table(
        "paper_positions",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("average_cost", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("account", "symbol", name="pk_paper_positions"),
    )
    op.create_table(
        "position_baselines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fill_watermark", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_position_baselines"),
    )
    op.create_table(
        "trading_halts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trading_halts"),
    )
    op.create_table(
        "broker_reconciliations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("baseline_id", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("breaks", sa.Integer(), nullable=False),
        sa.Column("symbols_checked", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["baseline_id"],
            ["position_baselines.id"],
            name="fk_broker_reconciliations_baseline_id_position_baselines",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_broker_reconciliations"),
    )
    op.create_table(
        "paper_fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("commission", sa.Double(), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["paper_orders.id"], name="fk_paper_fills_order_id_paper_orders"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_paper_fills"),
    )
    op.create_index("ix_paper_fills_order_id", "paper_fills", ["order_id"], unique=False)
    op.create_table(
        "position_baseline_rows",
        sa.Column("baseline_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["baseline_id"],
            ["position_baselines.id"],
            name="fk_position_baseline_rows_baseline_id_position_baselines",
        ),
        sa.PrimaryKeyConstraint("baseline_id", "symbol", name="pk_position_baseline_rows"),
    )
    op.create_table(
        "trade_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["basket_trade_groups.id"],
            name="fk_trade_approvals_group_id_basket_trade_groups",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_trade_approvals"),
    )
    op.create_index("ix_trade_approvals_group_id", "trade_approvals", ["group_id"], unique=False)
    op.create_table(
        "trade_previews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("leg_no", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("target_value", sa.Double(), nullable=False),
        sa.Column("current_quantity", sa.Double(), nullable=False),
        sa.Column("estimated_price", sa.Double(), nullable=False),
        sa.Column("estimated_notional", sa.Double(), nullable=False),
        sa.Column("estimated_commission", sa.Double(), nullable=True),
        sa.Column("estimated_cost", sa.Double(), nullable=False),
        sa.Column("original_estimated_cost", sa.Double(), nullable=False),
        sa.Column("margin_change", sa.Double(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("drift_warning", sa.Text(), nullable=True),
        sa.Column("previewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("filled_quantity", sa.Double(), nullable=False),
        sa.Column("average_fill_price", sa.Double(), nullable=True),
        sa.Column("commission", sa.Double(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["basket_trade_groups.id"],
            name="fk_trade_previews_group_id_basket_trade_groups",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_trade_previews"),
        sa.UniqueConstraint("group_id", "leg_no", name="uq_trade_previews_group_id_leg_no"),
        sa.UniqueConstraint("order_ref", name="uq_trade_previews_order_ref"),
    )
    op.create_table(
        "broker_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("leg_id", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("order_type", sa.String(length=8), nullable=False),
        sa.Column("broker_order_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("filled_quantity", sa.Double(), nullable=False),
        sa.Column("average_fill_price", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["leg_id"], ["trade_previews.id"], name="fk_broker_orders_leg_id_trade_previews"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_broker_orders"),
        sa.UniqueConstraint("leg_id", name="uq_broker_orders_leg_id"),
        sa.UniqueConstraint("order_ref", name="uq_broker_orders_order_ref"),
    )


def downgrade() -> None:
    op.drop_table("broker_orders")
    op.drop_table("trade_previews")
    op.drop_table("trade_approvals")
    op.drop_table("position_baseline_rows")
    op.drop_table("paper_fills")
    op.drop_table("broker_reconciliations")
    op.drop_table("trading_halts")
    op.drop_table("position_baselines")
    op.drop_table("paper_positions")
    op.drop_table("paper_orders")
    op.drop_table("paper_accounts")
    op.drop_table("broker_fills")
    op.drop_table("basket_trade_groups")
