"""Helpers shared by the tests (kept out of the packages)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestration.settings import Settings, load_settings

PG_CONNINFO = os.environ.get("PORTFOLIO_TEST_PG", "host=127.0.0.1 port=5432 user=postgres")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LEAN_DIR = SHARED_DATA / "market-lean-1998-2021"
PYPFOPT_DIR = SHARED_DATA / "market-pypfopt-1990-2024"


def postgres_admin():
    """An autocommit connection to the server's ``postgres`` database."""
    import psycopg

    return psycopg.connect(f"{PG_CONNINFO} dbname=postgres connect_timeout=3", autocommit=True)


def postgres_skip_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when a server is reachable."""
    try:
        with postgres_admin():
            return None
    except Exception as exc:  # any failure means "no usable server here"
        return f"PostgreSQL not reachable at '{PG_CONNINFO}': {exc.__class__.__name__}"


def make_settings(home: Path, database_url: str | None = None, **env: str) -> Settings:
    """Settings as ``load_settings`` builds them from an environment."""
    environ = {"PORTFOLIO_HOME": str(home), **env}
    if database_url:
        environ["PORTFOLIO_DATABASE_URL"] = database_url
    return load_settings(environ)


def require_dir(path: Path) -> Path:
    """Skip the test with a reason when a real-data directory is absent."""
    if not path.is_dir():
        pytest.skip(f"real market data not available: {path} is absent")
    return path
