"""``portfolio evaluate-volatility``: rolling-origin, out-of-sample comparison of the HAR
volatility forecast with the naive one (the current 21-day realized vol) on the stored prices.

At every origin each symbol's HAR model is fitted on its own history up to the origin only
(the same settings as the ``volatility_forecasts`` asset), both forecasts are scored against
the realized variance of the next 21 trading days, and the losses (MSE and QLIKE on daily
variances) are averaged per model, pooled and per symbol.
"""

from __future__ import annotations

import argparse

import pandas as pd

from analytics_lib.returns import simple_returns
from analytics_lib.volatility import DEFAULT_HORIZON, HAR_MONTH, evaluate_volatility_forecasts
from orchestration import constants as c
from orchestration.cli.arguments import iso_date
from orchestration.cli.output import print_json, print_pairs, print_table
from orchestration.cli.progress import stages
from orchestration.settings import Settings

DEFAULT_STEP = 5
LOSSES = ("mse", "qlike")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate-volatility`` to the ``portfolio`` parser."""
    parser = subparsers.add_parser(
        "evaluate-volatility",
        help="out-of-sample HAR vs naive volatility forecasts over all symbols",
        description="Rolling-origin, out-of-sample comparison of the HAR forecast of the next "
        f"{DEFAULT_HORIZON} days' volatility with the naive forecast (current "
        f"{c.SHORT_VOL_WINDOW}-day realized vol) over every symbol with stored prices: MSE and "
        "QLIKE losses per model and the share of symbols where HAR wins. Needs price history "
        "(e.g. `portfolio backfill START END --market-data-only`).",
    )
    parser.add_argument(
        "--start", type=iso_date, default=None, help="first forecast origin (default: first price)"
    )
    parser.add_argument(
        "--end",
        type=iso_date,
        default=None,
        help=f"last forecast origin (default: the last with {DEFAULT_HORIZON} trading days after)",
    )
    parser.add_argument(
        "--step",
        type=int,
        default=DEFAULT_STEP,
        help=f"trading days between origins (default {DEFAULT_STEP})",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=evaluate_volatility_command)


def _origins(
    index: pd.DatetimeIndex, start: object, end: object, step: int, min_observations: int
) -> pd.DatetimeIndex:
    """Dates of ``index`` in [start, end], each followed by a full horizon, every ``step``.

    Without ``start`` the first origin is the first date with enough history for a HAR fit
    (``min_observations`` regression rows after the 22-day warm-up and the horizon)."""
    candidates = index[: max(len(index) - DEFAULT_HORIZON, 0)]
    candidates = candidates[min_observations + HAR_MONTH + DEFAULT_HORIZON - 2 :]
    if start is not None:
        candidates = candidates[candidates >= pd.Timestamp(start)]
    if end is not None:
        candidates = candidates[candidates <= pd.Timestamp(end)]
    return candidates[::step]


def evaluate_volatility_command(args: argparse.Namespace, settings: Settings) -> int:
    """Score HAR against the naive forecast on every symbol of the app database."""
    from orchestration.definitions import build_risk_model
    from orchestration.resources.database import Database
    from orchestration.resources.panels import ReturnsPanels

    if args.step < 1:
        raise ValueError(f"--step must be >= 1, got {args.step}")
    if args.start and args.end and args.end < args.start:
        raise ValueError(f"--end {args.end} is before --start {args.start}")
    risk_model = build_risk_model(
        settings, ReturnsPanels(database=Database(url=settings.database_url))
    )
    span = risk_model.panels.database.read_frame(
        "SELECT (SELECT MIN(date) FROM prices) AS first, (SELECT MAX(date) FROM prices) AS last"
    )
    first, last = span["first"].iloc[0], span["last"].iloc[0]
    if first is None:
        raise ValueError("no prices stored yet: run `portfolio backfill START END` first")
    with stages(2) as stage:
        stage.start(f"loading prices {str(first)[:10]} … {str(last)[:10]}")
        prices = risk_model.panels.prices(pd.Timestamp(first).date(), pd.Timestamp(last).date())
        returns = simple_returns(prices)
        origins = _origins(
            returns.index, args.start, args.end, args.step, risk_model.har_min_observations
        )
        if origins.empty:
            raise ValueError(
                f"no forecast origin between --start and --end with enough history for a HAR "
                f"fit and {DEFAULT_HORIZON} trading days of prices after it (prices cover "
                f"{str(first)[:10]} … {str(last)[:10]})"
            )
        stage.start(f"scoring {len(origins)} origins x {returns.shape[1]} symbols")
        per_symbol, summary = evaluate_volatility_forecasts(
            returns,
            origins=origins,
            min_observations=risk_model.har_min_observations,
            max_history=risk_model.history_days,
        )
    scored = per_symbol.loc[per_symbol["forecasts"] > 0]
    models = pd.DataFrame(
        [
            {
                "model": model,
                "mean_mse": summary[f"{model}_mse"],
                "mean_qlike": summary[f"{model}_qlike"],
                "median_symbol_mse": float(scored[f"{model}_mse"].median()),
                "median_symbol_qlike": float(scored[f"{model}_qlike"].median()),
            }
            for model in ("har", "naive")
        ]
    )
    result = {
        "market_data": settings.market_data,
        "first_origin": origins[0].date(),
        "last_origin": origins[-1].date(),
        "origins": summary["origins"],
        "step": args.step,
        "horizon": summary["horizon"],
        "history_days": risk_model.history_days,
        "symbols": summary["symbols"],
        "forecasts": summary["forecasts"],
        "models": models.to_dict(orient="records"),
        **{f"har_win_share_{loss}": summary[f"har_win_share_{loss}"] for loss in LOSSES},
    }
    if args.json:
        print_json({**result, "per_symbol": per_symbol.reset_index().to_dict(orient="records")})
        return 0
    print_pairs(
        [
            ("market data", settings.market_data),
            (
                "origins",
                f"{result['first_origin']} … {result['last_origin']}, "
                f"{result['origins']} (every {args.step} trading days)",
            ),
            ("horizon", f"{result['horizon']} trading days"),
            ("symbols with forecasts", result["symbols"]),
            ("forecast pairs", f"{result['forecasts']:,}"),
        ]
    )
    print("\nLosses on daily variances (lower is better)")
    print_table(models, floatfmt=".4g")
    print(
        f"\nShare of symbols where HAR's own loss is lower than the naive forecast's: "
        f"{summary['har_win_share_qlike']:.0%} on QLIKE, {summary['har_win_share_mse']:.0%} on MSE."
    )
    pooled = [
        f"{loss.upper()} favours "
        + ("HAR" if summary[f"har_{loss}"] < summary[f"naive_{loss}"] else "naive")
        for loss in LOSSES
    ]
    print(f"Pooled over every forecast (mean_* above): {', '.join(pooled)}.")
    return 0
