"""Wall time of the ``portfolio`` commands that run no pipeline (issue 17: each <= 2 s).

Every command runs as its own process (``python -m orchestration.cli …``, as a user runs it),
``--repeats`` times; the median, the fastest and the slowest wall time are printed with the
median CPU time (user + system) and the machine's load, since a loaded machine stretches wall
time and not the work. The state is a
``portfolio demo`` in a temporary ``PORTFOLIO_HOME`` (about a minute), or ``--home`` of an
existing one (it gains preview groups and a basket that is created and deleted again).

    .venv/bin/python -m benchmarks.commands [--home DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

TARGET_SECONDS = 2.0
BENCH_BASKET = "bench basket"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(home: Path, args: Sequence[str]) -> tuple[float, float, str]:
    """Run ``portfolio ARGS`` on ``home``; its wall time, its CPU time (user + system, which a
    loaded machine does not stretch) and its standard output."""
    env = {**os.environ, "PORTFOLIO_HOME": str(home)}
    cpu = _cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"portfolio {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return seconds, _cpu_seconds() - cpu, done.stdout


def _demo_home(folder: Path) -> Path:
    home = folder / "home"
    print(f"building the demo state in {home} (portfolio demo) …", file=sys.stderr)
    _run(home, ["demo"])
    return home


def _commands(home: Path) -> list[tuple[str, Callable[[], Sequence[str]]]]:
    """The commands to time; a callable gives each repeat its arguments (an approve needs the
    id of a fresh preview, made outside the timing)."""
    *_, listing = _run(home, ["basket", "list", "--json"])
    basket = json.loads(listing)[0]["name"]
    *_, groups = _run(home, ["trade", "list", "--json"])
    group = json.loads(groups)[-1]["id"]
    preview = ["trade", "preview", basket, "--action", "buy", "--value", "10000", "--json"]

    def fresh_group() -> Sequence[str]:
        *_, out = _run(home, preview)
        return ["trade", "approve", str(json.loads(out)["id"])]

    fixed = [
        ["--help"],
        ["basket", "list"],
        ["basket", "show", basket],
        ["basket", "create", BENCH_BASKET, "--tickers", "SPY,XLK"],
        ["basket", "update", BENCH_BASKET, "--description", "timed"],
        ["basket", "delete", BENCH_BASKET],
        preview,
        ["trade", "status", str(group)],
        ["trade", "list"],
        ["trading", "status"],
        ["trading", "halt", "--reason", "benchmark"],
        ["trading", "resume", "--reason", "benchmark"],
        ["risk", "show"],
        ["risk", "show", "--json"],
    ]
    timed: list[tuple[str, Callable[[], Sequence[str]]]] = [
        (" ".join(args), lambda args=args: args) for args in fixed
    ]
    timed.insert(7, ("trade approve ID", fresh_group))
    return timed


def measure(home: Path, repeats: int) -> list[dict[str, object]]:
    """Median, fastest and slowest wall time of every command over ``repeats`` runs.

    The basket create / update / delete rows run in that order within each repeat, so each
    finds the state it needs."""
    commands = _commands(home)
    wall: dict[str, list[float]] = {name: [] for name, _ in commands}
    cpu: dict[str, list[float]] = {name: [] for name, _ in commands}
    for _ in range(repeats):
        for name, arguments in commands:
            seconds, cpu_seconds, _ = _run(home, arguments())
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    return [
        {
            "command": f"portfolio {name}",
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
            "cpu_s": statistics.median(cpu[name]),
        }
        for name, values in wall.items()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="an existing PORTFOLIO_HOME (default: a demo)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="portfolio-commands-") as folder:
        home = args.home or _demo_home(Path(folder))
        before = os.getloadavg()[0]
        rows = measure(home, args.repeats)
        after = os.getloadavg()[0]
    width = max(len(row["command"]) for row in rows)
    print(f"{'command':<{width}}  median s  min s  max s  cpu s  <= {TARGET_SECONDS:.0f} s")
    for row in rows:
        ok = "yes" if row["median_s"] <= TARGET_SECONDS else "NO"
        print(
            f"{row['command']:<{width}}  {row['median_s']:8.2f}  {row['min_s']:5.2f}  "
            f"{row['max_s']:5.2f}  {row['cpu_s']:5.2f}  {ok}"
        )
    print(
        f"\n{args.repeats} runs each, one process per run; {os.cpu_count()} CPUs, load average "
        f"{before:.2f} before and {after:.2f} after"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
