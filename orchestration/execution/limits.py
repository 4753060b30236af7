"""Pre-trade limits, checked before every leg is placed.

A leg is refused (and fails with the limit named) when its notional exceeds the per-order
limit, or when it would take the group's placed notional over the per-group limit or over the
allowed fraction of the account's net liquidation value. Sells count like buys: the limits
bound how much the executor may trade, not the direction.
"""

from __future__ import annotations

from orchestration.settings import TradingSettings


def limit_breach(
    notional: float,
    committed: float,
    net_liquidation: float,
    limits: TradingSettings,
) -> str | None:
    """Why a leg of ``notional`` may not be placed, or None when every limit holds.

    ``committed`` is the notional the group has already placed; ``net_liquidation`` the
    account's value when the execution started.
    """
    if notional > limits.max_order_notional:
        return (
            f"limit max_order_notional: the order's notional {notional:,.2f} exceeds "
            f"{limits.max_order_notional:,.2f} (PORTFOLIO_MAX_ORDER_NOTIONAL)"
        )
    total = committed + notional
    if total > limits.max_group_notional:
        return (
            f"limit max_group_notional: the group would place {total:,.2f} in total, over "
            f"{limits.max_group_notional:,.2f} (PORTFOLIO_MAX_GROUP_NOTIONAL)"
        )
    allowed = limits.max_net_liquidation_fraction * net_liquidation
    if total > allowed:
        return (
            f"limit max_net_liquidation_fraction: the group would place {total:,.2f} in total, "
            f"over {limits.max_net_liquidation_fraction:.1%} of the net liquidation value "
            f"{net_liquidation:,.2f} = {allowed:,.2f} (PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION)"
        )
    return None
