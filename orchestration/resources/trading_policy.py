"""Execution limits and timings as a Dagster resource (shown on the UI's resource page)."""

from __future__ import annotations

import dagster as dg

from orchestration.settings import Settings, TradingSettings


class TradingPolicy(dg.ConfigurableResource):
    """The :class:`~orchestration.settings.TradingSettings` the trade jobs run with."""

    preview_ttl_seconds: float
    max_order_notional: float
    max_group_notional: float
    max_net_liquidation_fraction: float
    order_timeout_seconds: float
    lease_seconds: float
    auto_approve: bool
    plan_drift_tolerance: float = 0.02

    @property
    def settings(self) -> TradingSettings:
        """The limits and timings as settings."""
        return TradingSettings(
            preview_ttl_seconds=self.preview_ttl_seconds,
            max_order_notional=self.max_order_notional,
            max_group_notional=self.max_group_notional,
            max_net_liquidation_fraction=self.max_net_liquidation_fraction,
            order_timeout_seconds=self.order_timeout_seconds,
            lease_seconds=self.lease_seconds,
            auto_approve=self.auto_approve,
            plan_drift_tolerance=self.plan_drift_tolerance,
        )


def trading_policy(settings: Settings) -> TradingPolicy:
    """The policy resource of ``settings``."""
    t = settings.trading
    return TradingPolicy(
        preview_ttl_seconds=t.preview_ttl_seconds,
        max_order_notional=t.max_order_notional,
        max_group_notional=t.max_group_notional,
        max_net_liquidation_fraction=t.max_net_liquidation_fraction,
        order_timeout_seconds=t.order_timeout_seconds,
        lease_seconds=t.lease_seconds,
        auto_approve=t.auto_approve,
        plan_drift_tolerance=t.plan_drift_tolerance,
    )
