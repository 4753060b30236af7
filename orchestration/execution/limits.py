"""Pre-trade limits and cash, checked at preview, in a dry run and before every leg is placed.

A leg is refused (and fails with the limit named) when its notional exceeds the per-order
limit, or when it would take the group's placed notional over the per-group limit or over the
allowed fraction of the account's net liquidation value. Sells count like buys: the limits
bound how much the executor may trade, not the direction. A buy is refused, too, when the
account's cash after the legs before it (sells add their proceeds, buys take their cost) cannot
pay its estimated cost. :func:`leg_verdicts` applies both rules to legs in execution order; the
preview, the dry run and the executor all call it, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class LegCheck:
    """What the checks need of one leg: ``side`` (BUY/SELL), its estimated ``notional`` and
    its signed estimated ``cost`` (commission included; negative = proceeds of a sell)."""

    side: str
    notional: float
    cost: float


def leg_verdicts(
    legs: Sequence[LegCheck],
    *,
    committed: float,
    net_liquidation: float,
    cash: float,
    limits: TradingSettings,
) -> list[str | None]:
    """Why each leg (in execution order) may not be placed, or None for a leg that may.

    Parameters
    ----------
    legs
        The legs still to place, in execution order.
    committed
        Notional the group has already placed.
    net_liquidation
        The account's net liquidation value (``math.inf``: no such limit).
    cash
        The account's available cash before the first of ``legs``.
    limits
        The trading limits.

    Returns
    -------
    list
        One entry per leg: :func:`limit_breach`'s reason, or ``"insufficient cash: needs X,
        Y available after earlier legs"`` for a buy whose cost exceeds the cash left after
        the legs before it, or None. A refused leg is not placed, so it neither counts
        towards the limits nor moves the cash of the legs after it.
    """
    verdicts: list[str | None] = []
    for leg in legs:
        reason = limit_breach(leg.notional, committed, net_liquidation, limits)
        if reason is None and leg.side == "BUY" and leg.cost > cash:
            reason = (
                f"insufficient cash: needs {leg.cost:,.2f}, {cash:,.2f} available after "
                "earlier legs"
            )
        if reason is None:
            committed += leg.notional
            cash -= leg.cost
        verdicts.append(reason)
    return verdicts
