"""PNG charts for the Dagster UI: rendered off-screen (matplotlib's Agg canvas, no display) and
embedded in markdown metadata as a data URI, so the asset page shows the picture."""

from __future__ import annotations

import base64
import io

import dagster as dg
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CHART_SIZE = (8.0, 4.5)
CHART_DPI = 100


def png_markdown(figure: Figure, title: str) -> dg.MetadataValue:
    """``figure`` as a PNG image in a markdown metadata value."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")


def equity_chart(
    equity: pd.Series, drawdown: pd.Series, benchmark: pd.Series | None, *, label: str
) -> dg.MetadataValue:
    """Equity curve (with the benchmark's, when given) above its drawdown."""
    figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot(equity.index, equity.to_numpy(), label=label, linewidth=1.2)
    if benchmark is not None:
        top.plot(benchmark.index, benchmark.to_numpy(), label=str(benchmark.name), linewidth=1.0)
    top.set_ylabel("equity")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.fill_between(drawdown.index, drawdown.to_numpy() * 100.0, 0.0, alpha=0.5)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    return png_markdown(figure, f"{label} equity and drawdown")


def bar_chart(values: pd.Series, *, title: str, xlabel: str) -> dg.MetadataValue:
    """Horizontal bars of ``values`` in percent, one per label (positive green, negative red),
    in the order given (the first at the top)."""
    figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI, layout="constrained")
    axes = figure.subplots()
    percent = values.to_numpy(dtype=float) * 100.0
    colors = ["tab:green" if v >= 0.0 else "tab:red" for v in percent]
    positions = range(len(values))
    axes.barh(positions, percent, color=colors)
    axes.set_yticks(list(positions), [str(label) for label in values.index])
    axes.invert_yaxis()
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    return png_markdown(figure, title)


def histogram_chart(
    values: pd.Series,
    weights: pd.Series,
    *,
    marker: float | None,
    marker_label: str,
    title: str,
    xlabel: str,
) -> dg.MetadataValue:
    """Histogram of ``values`` with each value counted by its ``weight`` (in percent), and a
    vertical line at ``marker`` when given."""
    figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI, layout="constrained")
    axes = figure.subplots()
    axes.hist(
        values.to_numpy(dtype=float),
        bins=min(30, max(5, len(values))),
        weights=weights.to_numpy(dtype=float) * 100.0,
        color="tab:blue",
        alpha=0.8,
    )
    if marker is not None:
        axes.axvline(marker, color="tab:red", linewidth=1.5, label=marker_label)
        axes.legend(loc="upper right")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("weight %")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    return png_markdown(figure, title)
