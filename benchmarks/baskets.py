"""Baskets end to end at scale: 1,000 baskets of 50 names over 5,000 symbols × 1,260 days.

Run ``python -m benchmarks.baskets [--database-url URL] [--seed N]``; the inputs are
``benchmarks.basket_kernels.make_inputs``. ``benchmarks.basket_kernels`` times the pure kernel;
this measures what the ``basket_returns`` asset and the ``basket_changes`` sensor add around it,
on a real app database (a temporary SQLite file unless ``--database-url`` names another) and a
real Dagster instance:

- loading every basket from the ``baskets`` table and resolving its weights;
- reading the prices of the window from ``prices`` and turning them into returns;
- the kernel (one matrix product for all baskets), for reference;
- writing every series to ``basket_returns`` (one transaction);
- the same for one basket alone (a ``refresh_basket`` run reads only its members' prices);
- reading the stored series back (what ``factor_returns_panel`` does);
- one sensor tick over all baskets: the first (every basket new), a steady one (nothing
  changed) and one after a single update.

Targets (issue 4): all basket series in ≤ 2 s, one sensor tick ≤ 1 s. Prints only, never asserts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd
from sqlalchemy import insert

from analytics_lib.baskets import basket_returns
from benchmarks.basket_kernels import make_inputs, peak_rss_mb
from orchestration.cli.runs import apply_dynamic_partitions_requests
from orchestration.clock import utc_now
from orchestration.definitions import build_definitions
from orchestration.defs.baskets import series as basket_series
from orchestration.defs.baskets import store as basket_store
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.settings import load_settings
from orchestration.storage.bulk import insert_frame
from orchestration.storage.models import Basket, Instrument, Price

DAYS_PER_INSERT = 100


def _stopwatch():
    start = time.perf_counter()
    return lambda: time.perf_counter() - start


def populate(database: Database, returns: pd.DataFrame, weights: pd.DataFrame) -> None:
    """Instruments, prices (from the returns; a missing return is a missing bar) and baskets."""
    now = pd.Timestamp(utc_now())
    symbols = returns.columns
    instruments = pd.DataFrame(
        {"symbol": symbols, "asset_type": "stock", "currency": "USD", "source": "bench"}
    ).assign(updated_at=now)
    closes = 100.0 * (1.0 + returns.fillna(0.0)).cumprod()
    closes = closes.where(returns.notna())
    first = pd.DataFrame(100.0, index=[returns.index[0] - pd.offsets.BDay()], columns=symbols)
    closes = pd.concat([first, closes])
    with database.transaction() as connection:
        insert_frame(connection, Instrument.__table__, instruments)
        for start in range(0, len(closes), DAYS_PER_INSERT):
            block = closes.iloc[start : start + DAYS_PER_INSERT].stack().dropna().rename("close")
            frame = block.rename_axis(["date", "symbol"]).reset_index()
            frame = frame.assign(adj_close=frame["close"], source="bench", ingested_at=now)
            insert_frame(connection, Price.__table__, frame)
        rows = []
        for name, row in weights.iterrows():
            members = row.dropna()
            rows.append(
                {
                    "name": str(name),
                    "description": None,
                    "tickers": list(members.index),
                    "weights": members.tolist(),
                    "weighting_method": "custom",
                    "created_at": now.to_pydatetime(),
                    "updated_at": now.to_pydatetime(),
                }
            )
        connection.execute(insert(Basket.__table__), rows)


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    """One evaluation of the sensor; its partition requests are applied like the daemon does."""
    sensor = defs.resolve_sensor_def("basket_changes")
    with dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        definitions=defs,
        resources=defs.resources,
        cursor=cursor,
    ) as context:
        elapsed = _stopwatch()
        result = sensor.evaluate_tick(context)
        seconds = elapsed()
    apply_dynamic_partitions_requests(instance, result.dynamic_partitions_requests or [])
    return result, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-baskets-") as tmp:
        home = Path(tmp)
        env = {"PORTFOLIO_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
        if args.database_url:
            env["PORTFOLIO_DATABASE_URL"] = args.database_url
        settings = load_settings(env)
        database = Database(url=settings.database_url)
        returns, weights = make_inputs(args.seed)
        n_baskets, n_symbols = weights.shape
        print(
            f"{n_baskets} baskets of {int(weights.notna().sum(axis=1).iloc[0])} names, "
            f"{n_symbols} symbols × {len(returns)} days, {database.dialect}"
        )
        elapsed = _stopwatch()
        populate(database, returns, weights)
        print(f"setup (not timed against a target): {elapsed():.1f} s to write the tables")
        del returns, weights

        panels = ReturnsPanels(database=database)
        end = basket_series.latest_price_date(database)
        names = database.read_frame("SELECT name FROM baskets ORDER BY name")["name"].tolist()

        elapsed = _stopwatch()
        records = basket_store.get_baskets(database, names)
        resolved = basket_series.basket_weights(database, records)
        matrix = basket_series.weight_matrix(resolved)
        load_baskets = elapsed()
        elapsed = _stopwatch()
        window = basket_series.price_window(panels, end, 1260)
        read_prices = elapsed()
        elapsed = _stopwatch()
        result = basket_returns(window.returns, matrix)
        kernel = elapsed()
        elapsed = _stopwatch()
        written = basket_series.write_basket_returns(
            database, result, {r.name: r.version for r in records}, utc_now()
        )
        write = elapsed()
        total = load_baskets + read_prices + kernel + write
        print(f"load + resolve {len(records)} baskets : {load_baskets:7.3f} s")
        print(
            f"read prices → returns ({window.returns.shape[0]}×{window.returns.shape[1]}) : "
            f"{read_prices:7.3f} s"
        )
        print(
            f"kernel, one matrix product     : {kernel:7.3f} s (target ≤ 2 s: "
            f"{'met' if kernel <= 2.0 else 'MISSED'})"
        )
        print(f"write {written:,} series rows  : {write:7.3f} s")
        print(
            f"basket_returns end to end      : {total:7.3f} s "
            f"(target ≤ 2 s: {'met' if total <= 2.0 else 'MISSED'})"
        )
        one = resolved[names[0]]
        elapsed = _stopwatch()
        single = basket_series.price_window(
            ReturnsPanels(database=database), end, 1260, list(one.index)
        )
        basket_returns(single.returns, basket_series.weight_matrix({names[0]: one}))
        print(f"one basket ({len(one)} names): read its prices + kernel : {elapsed():7.3f} s")
        elapsed = _stopwatch()
        stored = basket_series.read_basket_returns(database)
        frame = basket_series.basket_return_frame(stored)
        print(f"read back {frame.shape[1]} series ({frame.shape[0]} dates) : {elapsed():7.3f} s")
        print(f"peak RSS: {peak_rss_mb():.0f} MB")

        defs = build_definitions(settings)
        (home / "dagster").mkdir(exist_ok=True)
        instance = dg.DagsterInstance.from_config(str(home / "dagster"))
        first, first_s = tick(defs, instance, None)
        steady, steady_s = tick(defs, instance, first.cursor)
        basket_store.update_basket(database, names[0], description="touched")
        one, one_s = tick(defs, instance, steady.cursor)
        for label, res, seconds in (
            ("first tick (all new)", first, first_s),
            ("steady tick          ", steady, steady_s),
            ("tick after 1 update  ", one, one_s),
        ):
            print(
                f"sensor {label}: {seconds:6.3f} s, {len(res.run_requests)} run requests "
                f"(target ≤ 1 s: {'met' if seconds <= 1.0 else 'MISSED'})"
            )
        print(
            "dynamic partitions after the first tick: "
            f"{len(instance.get_dynamic_partitions('baskets'))}"
        )
        instance.dispose()


if __name__ == "__main__":
    main()
