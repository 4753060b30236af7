"""The seed's text tables (REALIZED PERFORMANCE, RETURN DISTRIBUTION, RETURN STATISTICS,
POSITIONS MONITOR) and the return-distribution chart, shared by the CLI and the asset metadata.

Presentation only: every figure comes from :mod:`analytics_lib.performance`; ``None`` (an
undefined ratio, dollars across currencies) prints as ``N/A``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import pandas as pd

DOUBLE_RULE = "═" * 79
WARNING_MARK = "⚠"
WARNING_FOOTNOTE = f"{WARNING_MARK} Entry price may be inaccurate"
NA = "N/A"


def money(value: float | None, currency: str | None = "USD") -> str:
    """``$1,234.50`` / ``-$328.00`` (``CAD 1,234.50`` for other currencies), ``N/A`` for None."""
    if value is None:
        return NA
    unit = "$" if currency in (None, "USD") else f"{currency} "
    value = round(value, 2) + 0.0  # no "-$0.00"
    sign = "-" if value < 0 else ""
    return f"{sign}{unit}{abs(value):,.2f}"


def percent(value: float | None, *, signed: bool = False) -> str:
    """``8.4%`` (``+8.4%`` when ``signed``), ``N/A`` for None."""
    if value is None:
        return NA
    value = round(value, 1) + 0.0  # no "-0.0%"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def _number(value: float | None, spec: str) -> str:
    return NA if value is None else format(value, spec)


def realized_performance_lines(summary: Mapping[str, Any], currency: str | None) -> list[str]:
    """REALIZED PERFORMANCE (seed component 3)."""
    s = summary
    ratio = s["win_loss_ratio"]
    return [
        f"Trades:     {s['total_trades']} total ({s['num_wins']} wins, {s['num_losses']} losses, "
        f"{s['num_breakeven']} breakeven)",
        f"Win Rate:   {percent(s['win_percent'])}",
        f"Loss Rate:  {percent(s['loss_percent'])}",
        "",
        f"Win $:      {money(s['total_win_dollars'], currency)}",
        f"Loss $:     {money(s['total_loss_dollars'], currency)}",
        f"Net P&L:    {money(s['net_pnl'], currency)}",
        "",
        f"Avg Win:    {money(s['avg_win'], currency)}",
        f"Avg Loss:   {money(s['avg_loss'], currency)}",
        f"Win/Loss:   {NA if ratio is None else f'{ratio:.2f}x'}",
        "",
        f"Expectancy: {money(s['expectancy'], currency)} per trade",
        f"Profit Factor: {_number(s['profit_factor'], '.2f')}",
    ]


def return_distribution_lines(distribution: Mapping[str, Any]) -> list[str]:
    """RETURN DISTRIBUTION (seed component 4): 10 buckets, counts and frequencies."""
    rule = "─" * 45
    lines = [f"{'Range':<16}{'Count':>8}{'Freq':>8}{'Cumul':>10}", rule]
    for bucket in distribution["buckets"]:
        lines.append(
            f"{bucket['range_label']:<16}{bucket['count']:>8}"
            f"{percent(bucket['frequency']):>8}{percent(bucket['cumulative_frequency']):>10}"
        )
    lines += [rule, f"{'Total':<16}{distribution['total_trades']:>8}"]
    if distribution["min_return"] is not None:
        low = percent(distribution["min_return"], signed=True)
        high = percent(distribution["max_return"], signed=True)
        lines += ["", f"Range: {low} to {high}"]
    return lines


def skew_description(skewness: float) -> str:
    """Words for a skewness value: symmetric / slightly / moderately / strongly left|right."""
    side = "right" if skewness > 0 else "left"
    size = abs(skewness)
    if size < 0.05:
        return "about symmetric"
    if size <= 0.5:
        return f"slightly {side}-skewed"
    if size <= 1.0:
        return f"moderately {side}-skewed"
    return f"strongly {side}-skewed"


def return_statistics_lines(stats: Mapping[str, Any], currency: str | None) -> list[str]:
    """RETURN STATISTICS (seed component 5): % and $ returns per trade."""

    def row(label: str, key: str, *, signed: bool = True) -> str:
        pct = percent(stats[f"{key}_percent"], signed=signed)
        return f"{label:<16}{pct:>11}{money(stats[f'{key}_dollars'], currency):>15}"

    skewness, kurtosis = stats["skewness"], stats["kurtosis"]
    skew_text = NA if skewness is None else f"{skewness:.2f} ({skew_description(skewness)})"
    return [
        f"{'':<16}{'% Return':>12}{'$ Return':>14}",
        "─" * 44,
        row("Average", "avg_return"),
        row("Median", "median_return"),
        row("Std Dev", "std_dev", signed=False),
        "",
        row("Avg Positive", "avg_positive"),
        row("Avg Negative", "avg_negative"),
        "",
        row("Best Trade", "best_return"),
        row("Worst Trade", "worst_return"),
        "",
        f"Skewness: {skew_text}",
        f"Kurtosis: {_number(kurtosis, '.2f')} (excess)",
    ]


def _titled(title: str, lines: list[str]) -> list[str]:
    return [title, DOUBLE_RULE, *lines]


def performance_lines(report: Mapping[str, Any]) -> list[str]:
    """The three realized-performance tables over every trade, then per currency when the
    trades span more than one (dollar figures are only given per currency then)."""
    currencies = list(report["by_currency"])
    single = currencies[0] if len(currencies) == 1 else None
    lines = _titled(
        "REALIZED PERFORMANCE", realized_performance_lines(report["realized_performance"], single)
    )
    lines += [
        "",
        *_titled("RETURN DISTRIBUTION", return_distribution_lines(report["return_distribution"])),
    ]
    lines += [
        "",
        *_titled("RETURN STATISTICS", return_statistics_lines(report["return_statistics"], single)),
    ]
    if len(currencies) > 1:
        for code in currencies:
            part = report["by_currency"][code]
            lines += [
                "",
                *_titled(
                    f"REALIZED PERFORMANCE ({code})",
                    realized_performance_lines(part["realized_performance"], code),
                ),
            ]
            lines += [
                "",
                *_titled(
                    f"RETURN STATISTICS ({code})",
                    return_statistics_lines(part["return_statistics"], code),
                ),
            ]
        lines += ["", f"Primary currency: {report['primary_currency']}"]
    return lines


POSITION_RULE = "─" * 87


def positions_lines(positions: pd.DataFrame, summary: Mapping[str, Any]) -> list[str]:
    """POSITIONS MONITOR (seed component 1): one row per open position, ``⚠`` on a suspect
    entry price with the footnote, then the exposure and unrealized P&L summary per currency
    (and per account when there are several)."""
    header = (
        f"{'Ticker':<11}{'Name':<24}{'Dir':<5}{'Shares':>9}{'Entry':>9}{'Current':>10}"
        f"{'$ P&L':>10}{'% P&L':>8}"
    )
    lines = [*_titled("POSITIONS MONITOR", [header, POSITION_RULE])]
    accounts = sorted(set(positions["account"])) if not positions.empty else []
    for account in accounts:
        mine = positions.loc[positions["account"] == account]
        if len(accounts) > 1:
            lines.append(f"Account {account}")
        for row in mine.itertuples(index=False):
            line = (
                f"{row.symbol:<11}{str(row.name)[:23]:<24}{row.direction.upper():<5}"
                f"{row.shares:>9,.1f}{_number(row.entry_price, ',.2f'):>9}"
                f"{row.current_price:>10,.2f}{_number(row.pnl_dollars, ',.2f'):>10}"
                f"{percent(row.pnl_percent):>8}"
            )
            lines.append(f"{line} {WARNING_MARK}" if row.entry_price_warning else line)
    if positions.empty:
        lines.append("(no open positions)")
    if positions["entry_price_warning"].any() if not positions.empty else False:
        lines += ["", WARNING_FOOTNOTE]
    for code, totals in summary["by_currency"].items():
        title = "SUMMARY" if len(summary["by_currency"]) == 1 else f"SUMMARY ({code})"
        lines += ["", title, POSITION_RULE, *_totals_lines(totals, code)]
    if len(summary["by_account"]) > 1:
        for account, by_currency in summary["by_account"].items():
            for code, totals in by_currency.items():
                lines += ["", f"ACCOUNT {account} ({code})", POSITION_RULE]
                lines += _totals_lines(totals, code)
    if len(summary["by_currency"]) > 1:
        lines += ["", f"Primary currency: {summary['primary_currency']}"]
    return lines


def _totals_lines(totals: Mapping[str, Any], currency: str) -> list[str]:
    pnl = money(totals["unrealized_pnl_dollars"], currency)
    return [
        f"Gross Exposure:  {money(totals['gross_exposure'], currency)}",
        f"Net Exposure:    {money(totals['net_exposure'], currency)}",
        f"Total Unrealized P&L: {pnl} ({percent(totals['unrealized_pnl_percent'])})",
    ]


def distribution_chart(distribution: Mapping[str, Any], title: str) -> str:
    """A bar chart of the bucket counts as a markdown image (PNG, base64 data URI)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [b["range_label"] for b in distribution["buckets"]]
    counts = [b["count"] for b in distribution["buckets"]]
    colors = [
        "#c0392b" if b["range_max"] is not None and b["range_max"] <= 0 else "#27ae60"
        for b in distribution["buckets"]
    ]
    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=80)
    try:
        axes.bar(range(len(labels)), counts, color=colors)
        axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        axes.set_ylabel("trades")
        axes.set_title(title, fontsize=10)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"![{title}](data:image/png;base64,{encoded})"


def code_block(lines: list[str]) -> str:
    """Lines as a fenced text block (the seed's tables in markdown metadata)."""
    return "```text\n" + "\n".join(lines) + "\n```"
