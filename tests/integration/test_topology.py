"""The production topology on one machine (issue 14 section 3).

The processes a deployment runs, each started on its own and stopped by its own process group:
``dagster code-server start`` (gRPC) for the code location, ``dagster-webserver`` on a workspace
that names that gRPC server, and ``dagster-daemon run`` with the queued run coordinator, all on
a dagster-postgres instance (``orchestration/instance/dagster.postgres.yaml``) and a PostgreSQL
app database, both fresh. ``daily_pipeline`` is launched for one partition through the GraphQL
``launchRun`` mutation; then a paper basket trade approved on the command line is executed by
the daemon's ``trade_approval_sensor``, exactly once.
"""

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.support import postgres_admin
from tests.webserver_support import (
    PROJECT_ROOT,
    Webserver,
    code_server,
    grpc_workspace,
    run_cli,
    service_environment,
    webserver,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

INSTANCE_YAML = PROJECT_ROOT / "orchestration" / "instance" / "dagster.postgres.yaml"
HISTORY_START = "2024-01-02"
HISTORY_END = "2024-02-28"
PARTITION = "2024-02-29"
SETTINGS = {
    "PORTFOLIO_START_DATE": HISTORY_START,
    "PORTFOLIO_DEMO_SYMBOLS": "33",
    "PORTFOLIO_DEMO_END_DATE": PARTITION,
    "PORTFOLIO_BROKER": "paper",
}
BASKET = "Topology pair"
BASKET_TICKERS = "CND001,COM001"
TRADE_VALUE = "5000"
PREVIEW = ["trade", "preview", BASKET, "--action", "buy", "--value", TRADE_VALUE, "--json"]
RUN_TIMEOUT = 300.0
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
FINAL_GROUP = {"completed", "partial", "failed", "cancelled"}


@pytest.fixture
def app_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on the fresh app database (disposed before the database is dropped)."""
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def instance_database(postgres_url: str) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database for the Dagster instance on the server of ``postgres_url``
    (dropped afterwards), as the ``DAGSTER_PG_*`` variables the instance file reads."""
    server = make_url(postgres_url)
    name = f"pp_test_dagster_{uuid.uuid4().hex[:12]}"
    with postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield {
        "DAGSTER_PG_HOST": server.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(server.port or 5432),
        "DAGSTER_PG_USER": server.username or "postgres",
        "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
        "DAGSTER_PG_DB": name,
    }
    with postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _location_name() -> str:
    (entry,) = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())["load_from"]
    return next(iter(entry.values()))["location_name"]


REPOSITORIES = """
query { repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""

RUN_STATUS = """
query Status($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""

JOB_RUNS = """
query JobRuns($job: String!) {
  runsOrError(filter: {pipelineName: $job}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""

JOB_PAGE_RUNS = """
query JobPage($location: String!, $repository: String!, $job: String!) {
  pipelineOrError(params: {
    repositoryLocationName: $location, repositoryName: $repository, pipelineName: $job
  }) {
    ... on Pipeline { runs { runId } }
  }
}
"""

SENSOR = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState {
        status
        ticks(limit: 20) { status timestamp runIds }
      }
    }
  }
}
"""


def _wait_for_run(server: Webserver, run_id: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        server.require_running()
        status = server.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in FINISHED or time.monotonic() > deadline:
            return status
        time.sleep(1.0)


def _group_status(app: Engine, group_id: int) -> str:
    with app.connect() as connection:
        return connection.execute(
            text("SELECT status FROM basket_trade_groups WHERE id = :id"), {"id": group_id}
        ).scalar_one()


def _sensor_ticks(server: Webserver, selector: dict[str, str]) -> tuple[str, list[dict]]:
    sensor = server.graphql(SENSOR, {"selector": selector})["sensorOrError"]
    assert sensor["__typename"] == "Sensor", sensor
    return sensor["sensorState"]["status"], sensor["sensorState"]["ticks"]


def _latest_tick(server: Webserver, selector: dict[str, str]) -> float:
    return max((tick["timestamp"] for tick in _sensor_ticks(server, selector)[1]), default=0.0)


def test_daily_pipeline_and_a_sensor_executed_trade_on_the_deployment_processes(
    tmp_path: Path, postgres_url: str, app_engine: Engine, instance_database: dict[str, str]
):
    home = tmp_path / "home"
    (home / "dagster").mkdir(parents=True)
    shutil.copyfile(INSTANCE_YAML, home / "dagster" / "dagster.yaml")
    env = service_environment(
        home, PORTFOLIO_DATABASE_URL=postgres_url, **SETTINGS, **instance_database
    )
    logs = tmp_path / "logs"
    run_cli(["db", "upgrade"], env)
    history = json.loads(
        run_cli(["backfill", HISTORY_START, HISTORY_END, "--market-data-only", "--json"], env)
    )
    assert history["success"]

    location = _location_name()
    with code_server(env, logs) as port:
        workspace = grpc_workspace(tmp_path / "workspace.yaml", location, port)
        with webserver(env, logs, workspace, daemon=True) as server:
            (repository,) = server.graphql(REPOSITORIES)["repositoriesOrError"]["nodes"]
            assert repository["location"]["name"] == location
            selector = {
                "repositoryLocationName": location,
                "repositoryName": repository["name"],
            }
            # The command line's run is on its job's page of this deployment too.
            page = server.graphql(
                JOB_PAGE_RUNS,
                {
                    "location": location,
                    "repository": repository["name"],
                    "job": "market_data_backfill",
                },
            )["pipelineOrError"]
            assert [run["runId"] for run in page["runs"]] == [history["run_id"]]

            # The daily pipeline for one partition, launched through GraphQL; the daemon
            # dequeues it (queued run coordinator) and the code server executes it.
            launched = server.graphql(
                LAUNCH,
                {
                    "params": {
                        "selector": {**selector, "pipelineName": "daily_pipeline"},
                        "runConfigData": {},
                        "executionMetadata": {
                            "tags": [{"key": "dagster/partition", "value": PARTITION}]
                        },
                    }
                },
            )["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]
            assert _wait_for_run(server, run_id) == "SUCCESS"

            with app_engine.connect() as connection:
                count = {
                    table: connection.execute(
                        text(f"SELECT COUNT(*) FROM {table} WHERE {column} = :day"),
                        {"day": PARTITION},
                    ).scalar_one()
                    for table, column in (
                        ("prices", "date"),
                        ("position_market_betas", "calc_date"),
                        ("position_volatility", "calc_date"),
                        ("portfolio_snapshots", "calc_date"),
                    )
                }
                previous = connection.execute(
                    text("SELECT COUNT(*) FROM prices WHERE date = :day"), {"day": HISTORY_END}
                ).scalar_one()
            # The same simulated universe as the session before, loaded by the CLI's backfill.
            assert count["prices"] == previous > 0
            assert count["position_market_betas"] > 0
            assert count["position_volatility"] > 0
            assert count["portfolio_snapshots"] == 1

            # A paper basket trade previewed and approved on the command line; the daemon's
            # approval sensor (running by default) launches its one execution.
            sensor_selector = {**selector, "sensorName": "trade_approval_sensor"}
            status, _ = _sensor_ticks(server, sensor_selector)
            assert status == "RUNNING"
            run_cli(["basket", "create", BASKET, "--tickers", BASKET_TICKERS], env)
            group = json.loads(run_cli(PREVIEW, env))
            order_refs = sorted(leg["order_ref"] for leg in group["legs"])
            assert len(order_refs) == len(BASKET_TICKERS.split(","))
            run_cli(["trade", "approve", str(group["id"]), "--json"], env)

            deadline = time.monotonic() + RUN_TIMEOUT
            while _group_status(app_engine, group["id"]) not in FINAL_GROUP:
                server.require_running()
                assert time.monotonic() < deadline, "the approved group was never executed"
                time.sleep(1.0)
            assert _group_status(app_engine, group["id"]) == "completed"
            finished_at = time.time()

            # One more sensor tick after the execution: it must launch nothing new.
            deadline = time.monotonic() + RUN_TIMEOUT
            while _latest_tick(server, sensor_selector) <= finished_at:
                assert time.monotonic() < deadline, "the approval sensor stopped ticking"
                time.sleep(2.0)

            executions = server.graphql(JOB_RUNS, {"job": "execute_basket_trade"})["runsOrError"][
                "results"
            ]
            assert len(executions) == 1
            (execution,) = executions
            tags = {tag["key"]: tag["value"] for tag in execution["tags"]}
            assert tags["portfolio/trade_group"] == str(group["id"])
            assert tags["dagster/sensor_name"] == "trade_approval_sensor"
            assert _wait_for_run(server, execution["runId"]) == "SUCCESS"

    with app_engine.connect() as connection:
        placed = {
            table: sorted(
                connection.execute(
                    text(f"SELECT order_ref FROM {table} WHERE order_ref = ANY(:refs)"),
                    {"refs": order_refs},
                ).scalars()
            )
            for table in ("broker_orders", "paper_orders")
        }
    assert placed == {"broker_orders": order_refs, "paper_orders": order_refs}
