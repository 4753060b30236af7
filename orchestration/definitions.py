"""The code location: ``dagster dev -m orchestration.definitions`` (or ``dg dev``) loads ``defs``.

The domains' assets, checks, jobs, schedules and sensors are found by loading the
``orchestration/defs`` folder (:func:`dagster.load_from_defs_folder`); this module applies the
policy that crosses domains once: the ``trading_days`` partitions from the settings' start date,
the simulated-data notice on every asset of the demo market, each asset's catalog entry
(:mod:`orchestration.catalog`: session freshness, code version, owner, kinds, table and column
schema), source-code references, the resources built from the settings (secrets set in the
environment as ``dg.EnvVar``) and the in-process executor.
Settings are read when Dagster loads the definitions (never at import), so tests can build
definitions for any settings with :func:`build_definitions`.
"""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from orchestration import catalog
from orchestration.clock import market_today
from orchestration.constants import SIMULATED_NOTICE
from orchestration.defs.alerts.webhook import AlertWebhook
from orchestration.partitions import is_trading_days, trading_days
from orchestration.resources.broker_connection import broker_connection
from orchestration.resources.database import Database, secret
from orchestration.resources.fmp import FmpMarketData
from orchestration.resources.ib_market_data import IbMarketData
from orchestration.resources.market_data import CsvMarketData, DemoMarketData, MarketDataSource
from orchestration.resources.panels import ReturnsPanels
from orchestration.resources.positions import BrokerPositions, MarketDataPositions
from orchestration.resources.risk import RiskModel
from orchestration.resources.strategy import strategy_model
from orchestration.resources.trading_policy import trading_policy
from orchestration.settings import (
    ALERT_WEBHOOK_VARIABLE,
    DATABASE_URL_VARIABLE,
    FMP_API_KEY_VARIABLE,
    Settings,
    load_settings,
)


def build_market_data(settings: Settings) -> MarketDataSource:
    """The market data source the settings select."""
    if settings.market_data == "csv":
        return CsvMarketData(
            directory=str(settings.csv_dir),
            end_date=settings.csv_end_date.isoformat() if settings.csv_end_date else "",
        )
    if settings.market_data == "fmp":
        return FmpMarketData(
            api_key=dg.EnvVar(FMP_API_KEY_VARIABLE),
            base_url=settings.fmp.base_url,
            symbols=list(settings.fmp.symbols),
            market_index=settings.market_index,
            start_date=settings.start_date.isoformat(),
            positions_csv=str(settings.fmp.positions_csv or ""),
            calls_per_minute=settings.fmp.calls_per_minute,
            timeout_seconds=settings.fmp.timeout_seconds,
        )
    if settings.market_data == "ib":
        return IbMarketData(
            host=settings.ib.host,
            port=settings.ib.port,
            client_id=settings.ib.market_data_client_id,
            symbols=list(settings.ib_market_data.symbols),
            market_index=settings.market_index,
            start_date=settings.start_date.isoformat(),
            positions_csv=str(settings.ib_market_data.positions_csv or ""),
            cache_dir=str(settings.home / "ib_bars"),
        )
    return DemoMarketData(
        start_date=settings.start_date.isoformat(),
        n_symbols=settings.demo_symbols,
        seed=settings.demo_seed,
        end_date=settings.demo_end_date.isoformat() if settings.demo_end_date else "",
    )


def build_risk_model(settings: Settings, panels: ReturnsPanels) -> RiskModel:
    """The risk model the settings select (market proxy, ETF look-through, staleness)."""
    return RiskModel(
        panels=panels,
        market_index=settings.market_index,
        etf_look_through=settings.etf_look_through,
        stale_sessions=settings.stale_sessions,
    )


def build_resources(settings: Settings) -> dict[str, object]:
    """Resources by key, built once from the settings."""
    database = Database(url=secret(settings, DATABASE_URL_VARIABLE, settings.database_url))
    market_data = build_market_data(settings)
    panels = ReturnsPanels(database=database)
    broker_data = broker_connection(settings, readonly=True, secrets_as_env_vars=True)
    positions = (
        BrokerPositions(broker=broker_data)
        if settings.trading.positions_source == "broker"
        else MarketDataPositions(market_data=market_data)
    )
    return {
        "database": database,
        "market_data": market_data,
        "panels": panels,
        "risk_model": build_risk_model(settings, panels),
        "positions_source": positions,
        "broker": broker_connection(settings, readonly=False, secrets_as_env_vars=True),
        "broker_data": broker_data,
        "trading_policy": trading_policy(settings),
        "strategy_model": strategy_model(settings),
        "alert_webhook": AlertWebhook(
            url=secret(settings, ALERT_WEBHOOK_VARIABLE, settings.alert_webhook)
        ),
    }


SPHINX_ROLE = re.compile(r":(?:func|meth|mod|class|data|attr|obj):`~?([^`]+)`")


def plain_roles(text: str) -> str:
    """``text`` with Sphinx cross-reference roles (``:func:`x```) as plain code (```x```): the
    UI renders asset descriptions as markdown, which has no roles."""
    return SPHINX_ROLE.sub(r"`\1`", text)


def _with_policy(
    asset: dg.AssetsDefinition | dg.SourceAsset,
    partitions: dg.PartitionsDefinition,
    simulated: bool,
    database_kind: str,
    freshness: dg.FreshnessPolicy,
) -> dg.AssetsDefinition | dg.SourceAsset:
    """``asset`` with its ``trading_days`` partitions starting at the settings' start date and,
    on the simulated demo market, ``simulated: true`` and the notice in its metadata; its
    description without Sphinx roles; and its catalog entry (:mod:`orchestration.catalog`):
    code version of its domain module, owner, kinds (``pandas``, and the app database's
    ``sqlite`` / ``postgres`` where it writes a table), table name and column schema where it
    writes one table, and the session freshness policy on ``daily_prices`` and the risk
    snapshot."""
    if not isinstance(asset, dg.AssetsDefinition):
        return asset
    notice = {"simulated": True, "notice": SIMULATED_NOTICE} if simulated else {}
    code_version = catalog.CODE_VERSIONS.get(asset.op.compute_fn.decorated_fn.__module__)

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        if is_trading_days(spec.partitions_def):
            spec = spec.replace_attributes(partitions_def=partitions)
        if spec.description:
            spec = spec.replace_attributes(description=plain_roles(spec.description))
        if catalog.is_fresh_asset(spec):
            spec = spec.replace_attributes(freshness_policy=freshness)
        key = spec.key.to_user_string()
        writes = {database_kind} if catalog.ASSET_TABLES.get(key) else set()
        return spec.replace_attributes(
            code_version=code_version,
            kinds=spec.kinds | writes | {"pandas"},
        ).merge_attributes(
            owners=[catalog.OWNER],
            metadata={**notice, **catalog.table_metadata(key)},
        )

    return dg.map_asset_specs(apply, [asset])[0]


def build_definitions(settings: Settings) -> dg.Definitions:
    """All assets, checks, jobs, schedules, sensors and resources for ``settings``."""
    partitions = trading_days(settings.start_date)
    domains = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # A domain imports the upstream assets it names in ``deps``, so the loader meets them twice.
    unique = {id(asset): asset for asset in domains.assets or []}.values()
    database_kind = catalog.database_kind(settings.database_url)
    freshness = catalog.session_freshness(market_today())
    assets = [
        _with_policy(asset, partitions, settings.is_simulated, database_kind, freshness)
        for asset in unique
    ]
    return dg.Definitions.merge(
        dg.Definitions(
            assets=dg.with_source_code_references(assets),
            asset_checks=domains.asset_checks,
            jobs=domains.jobs,
            schedules=domains.schedules,
            sensors=domains.sensors,
        ),
        dg.Definitions(resources=build_resources(settings), executor=dg.in_process_executor),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The definitions for the settings in the environment."""
    return build_definitions(load_settings())
