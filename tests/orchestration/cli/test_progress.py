"""Progress of the long commands: one plain line per stage when standard error is not a
terminal, a rich progress bar when it is (rendered into a buffer with ``force_terminal``)."""

import io

import pytest
from rich.console import Console

from orchestration.cli import main
from orchestration.cli.progress import stages
from tests.orchestration.risk.test_assets import AS_OF, START, _write_market


def test_plain_lines_off_a_terminal():
    buffer = io.StringIO()
    with stages(3, console=Console(file=buffer, force_terminal=False)) as stage:
        stage.start("market data")
        stage.start("risk group")
    assert buffer.getvalue() == "[1/3] market data\n[2/3] risk group\n"


def test_a_progress_bar_on_a_terminal():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=60, color_system=None)
    with stages(2, console=console) as stage:
        stage.start("market data")
        stage.start(f"risk group {'x' * 80}")
    rendered = buffer.getvalue()
    assert "[1/2]" not in rendered  # no plain lines on a terminal
    assert rendered.startswith("\x1b[?25l")  # a live display: the cursor hidden while it draws
    final = rendered.rsplit("\x1b[2K", 1)[-1].removesuffix("\n\x1b[?25h")  # the last frame
    assert "2/2" in final and "━" in final and "risk group" in final
    # a label longer than the terminal is cut, never the bar and the counts
    assert final.endswith("…") and len(final) == 60


def test_a_failed_stage_leaves_the_bar_short_of_done():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    with pytest.raises(ValueError), stages(2, console=console) as stage:
        stage.start("market data")
        raise ValueError("no prices")
    final = buffer.getvalue().rsplit("\x1b[2K", 1)[-1]
    assert "market data" in final and "0/2" in final


@pytest.fixture
def market_home(tmp_path, monkeypatch):
    (tmp_path / "market").mkdir()
    _write_market(tmp_path / "market")
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("PORTFOLIO_MARKET_DATA", "csv")
    monkeypatch.setenv("PORTFOLIO_CSV_DIR", str(tmp_path / "market"))
    monkeypatch.setenv("PORTFOLIO_START_DATE", START.isoformat())
    monkeypatch.delenv("PORTFOLIO_DATABASE_URL", raising=False)
    return tmp_path


def test_backfill_and_evaluate_volatility_print_their_stages(market_home, capsys):
    """Under pytest standard error is no terminal: the stages come as plain lines."""
    assert main(["backfill", START.isoformat(), AS_OF.isoformat(), "--market-data-only"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[1/2] loading the definitions of market_data_backfill"
    assert lines[1] == (
        f"[2/2] backfill {START} … {AS_OF} (45 trading days, one run of market_data_backfill)"
    )
    # 45 sessions are too few for a HAR fit: the command stops after loading the prices
    assert main(["evaluate-volatility"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"[1/2] loading prices {START} … {AS_OF}"
    assert lines[-1].startswith("portfolio evaluate-volatility: error: no forecast origin")
