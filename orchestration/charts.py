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
