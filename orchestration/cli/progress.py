"""Progress of the long commands (``demo``, ``backfill``, ``evaluate-volatility``) on standard
error, which is where it is drawn (standard output carries the results, e.g. ``--json``).

On a terminal a rich progress bar shows the current stage, stages done of all, and the elapsed
time; anything printed meanwhile (the commands' ``·`` notes and run outcomes) appears above the
bar. Elsewhere (a pipe, a log file, CI) each stage is one plain line, ``[k/N] stage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column

BAR_WIDTH = 24
LABEL_COLUMN = Column(ratio=1, no_wrap=True, overflow="ellipsis")


class Stages:
    """The stages of one command; :meth:`start` begins the next one."""

    def __init__(self, total: int, console: Console, bar: Progress | None) -> None:
        self.total = total
        self.started = 0
        self._console = console
        self._bar = bar
        self._task = bar.add_task("", total=total) if bar is not None else None

    def start(self, label: str) -> None:
        """Begin the next stage, ``label``; the stage before it counts as done."""
        self.started += 1
        if self._bar is None:
            print(f"[{self.started}/{self.total}] {label}", file=self._console.file, flush=True)
        else:
            self._bar.update(self._task, description=label, completed=self.started - 1)

    def finish(self) -> None:
        """Count every stage started as done (the bar shows k/N of them)."""
        if self._bar is not None:
            self._bar.update(self._task, completed=self.started)


@contextmanager
def stages(total: int, console: Console | None = None) -> Iterator[Stages]:
    """``total`` stages on ``console`` (default: standard error): a rich bar on a terminal,
    plain lines otherwise. Leaving the block normally marks the started stages done."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        tracker = Stages(total, console, None)
        yield tracker
        return
    # the fixed-width columns first: a long stage label is cut at the terminal's edge, never
    # the bar and the counts
    columns = (
        SpinnerColumn(),
        BarColumn(bar_width=BAR_WIDTH),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}", table_column=LABEL_COLUMN),
    )
    # standard output is left alone: it may be a pipe that expects only the results
    with Progress(*columns, console=console, expand=True, redirect_stdout=False) as bar:
        tracker = Stages(total, console, bar)
        yield tracker
        tracker.finish()
