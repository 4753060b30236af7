"""What the Dagster UI shows after command-line runs, asked of a running ``dagster-webserver``
over its GraphQL API (issue 16, items 1, 4 and 10).

One state folder for the module: a market-data backfill and a daily run by the ``portfolio``
command line on a small simulated market, then the webserver on the project's
``workspace.yaml`` and the same instance, as ``make dev`` starts it.
"""

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from orchestration.cli.runs import code_location_origin
from tests.webserver_support import (
    PROJECT_ROOT,
    Webserver,
    run_cli,
    service_environment,
    webserver,
)

pytestmark = pytest.mark.slow

BACKFILL_START = "2024-01-02"
BACKFILL_END = "2024-02-28"
DAILY_DATE = "2024-02-29"
SETTINGS = {
    "PORTFOLIO_START_DATE": BACKFILL_START,
    "PORTFOLIO_DEMO_SYMBOLS": "33",
    "PORTFOLIO_DEMO_END_DATE": DAILY_DATE,
}
# Partitions of the backfill: the first session, one in the middle and the last.
BACKFILLED_PARTITIONS = [BACKFILL_START, "2024-01-31", BACKFILL_END]


@dataclass
class UiState:
    server: Webserver
    backfill_run_id: str
    daily_run_id: str


def _workspace_location_name() -> str:
    entries = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())["load_from"]
    assert len(entries) == 1
    (entry,) = entries
    return next(iter(entry.values()))["location_name"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiState]:
    home = tmp_path_factory.mktemp("ui-home")
    env = service_environment(home, **SETTINGS)
    backfill = json.loads(
        run_cli(["backfill", BACKFILL_START, BACKFILL_END, "--market-data-only", "--json"], env)
    )
    daily = json.loads(run_cli(["run", "--date", DAILY_DATE, "--json"], env))
    assert backfill["success"] and daily["success"]
    with webserver(env, home / "logs", PROJECT_ROOT / "workspace.yaml") as server:
        yield UiState(server, backfill["run_id"], daily["run_id"])


def test_cli_runs_name_the_code_location_that_make_dev_and_the_workspace_load():
    """The UI lists a job's runs by ``repository@location``: the CLI's location must be the
    one ``make dev`` (``dg dev``, from ``[tool.dg.project]``), ``dagster dev -m`` (from
    ``[tool.dagster]``), ``workspace.yaml`` and the Helm chart's user deployment (whose name is
    the location's name on Kubernetes) name."""
    tool = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]
    helm = yaml.safe_load((PROJECT_ROOT / "deploy" / "helm" / "values.yaml").read_text())
    loaded_by_ui = {
        tool["dg"]["project"]["code_location_name"],
        tool["dagster"]["code_location_name"],
        _workspace_location_name(),
        *(d["name"] for d in helm["dagster-user-deployments"]["deployments"]),
    }
    assert loaded_by_ui == {code_location_origin().location_name}


REPOSITORIES = """
query {
  repositoriesOrError {
    ... on RepositoryConnection { nodes { name location { name } } }
  }
}
"""

JOB_RUNS = """
query JobRuns($location: String!, $repository: String!, $job: String!) {
  pipelineOrError(params: {
    repositoryLocationName: $location, repositoryName: $repository, pipelineName: $job
  }) {
    __typename
    ... on Pipeline {
      runs {
        runId
        status
        repositoryOrigin { repositoryLocationName repositoryName }
      }
    }
  }
}
"""


def test_cli_runs_are_listed_on_the_job_page_with_their_code_location(ui):
    """Issue 16.1: the job page lists the runs of its job in its repository (the
    ``.dagster/repository`` label); a CLI run must be there with a non-null origin."""
    location = _workspace_location_name()
    nodes = ui.server.graphql(REPOSITORIES)["repositoriesOrError"]["nodes"]
    assert [node["location"]["name"] for node in nodes] == [location]
    repository = nodes[0]["name"]

    job = ui.server.graphql(
        JOB_RUNS, {"location": location, "repository": repository, "job": "daily_pipeline"}
    )["pipelineOrError"]
    assert job["__typename"] == "Pipeline"
    runs = {run["runId"]: run for run in job["runs"]}
    assert ui.daily_run_id in runs
    assert runs[ui.daily_run_id]["status"] == "SUCCESS"
    assert runs[ui.daily_run_id]["repositoryOrigin"] == {
        "repositoryLocationName": location,
        "repositoryName": repository,
    }

    backfill_job = ui.server.graphql(
        JOB_RUNS,
        {"location": location, "repository": repository, "job": "market_data_backfill"},
    )["pipelineOrError"]
    assert [run["runId"] for run in backfill_job["runs"]] == [ui.backfill_run_id]


ASSET_CHECKS = """
query AssetChecks($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetMaterializations(limit: 1) { runId }
      assetChecksOrError {
        __typename
        ... on AssetChecks {
          checks {
            name
            blocking
            executionForLatestMaterialization { runId status }
          }
        }
      }
    }
  }
}
"""


def test_the_daily_run_materializes_broker_reconciliation_and_runs_its_blocking_check(ui):
    """Issue 16.4: after the daily job the UI shows a materialization of
    ``broker_reconciliation`` and an evaluation of its blocking check from that run."""
    node = ui.server.graphql(ASSET_CHECKS, {"path": ["broker_reconciliation"]})["assetNodeOrError"]
    assert [event["runId"] for event in node["assetMaterializations"]] == [ui.daily_run_id]
    assert node["assetChecksOrError"]["__typename"] == "AssetChecks"
    blocking = [check for check in node["assetChecksOrError"]["checks"] if check["blocking"]]
    assert blocking, "broker_reconciliation has no blocking check"
    for check in blocking:
        assert check["executionForLatestMaterialization"] == {
            "runId": ui.daily_run_id,
            "status": "SUCCEEDED",
        }, check["name"]


STALENESS = """
query Staleness($path: [String!]!, $partitions: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      staleStatusByPartition(partitions: $partitions)
      staleCausesByPartition(partitions: $partitions) {
        key { path }
        reason
        dependency { path }
      }
    }
  }
}
"""

MATERIALIZATION_RUNS = """
query Materializations($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { assetMaterializations { runId } }
  }
}
"""


def test_backfilled_prices_stay_in_sync_when_instruments_are_rematerialized_unchanged(ui):
    """Issue 16.10: the daily run materializes ``instruments`` again with the same rows (the
    simulated market is deterministic), which must not mark the backfilled ``daily_prices``
    partitions Unsynced (stale status ``STALE``)."""
    instruments = ui.server.graphql(MATERIALIZATION_RUNS, {"path": ["instruments"]})[
        "assetNodeOrError"
    ]["assetMaterializations"]
    assert {event["runId"] for event in instruments} == {ui.backfill_run_id, ui.daily_run_id}

    node = ui.server.graphql(
        STALENESS, {"path": ["daily_prices"], "partitions": BACKFILLED_PARTITIONS}
    )["assetNodeOrError"]
    causes = dict(zip(BACKFILLED_PARTITIONS, node["staleCausesByPartition"], strict=True))
    assert causes == {partition: [] for partition in BACKFILLED_PARTITIONS}
    assert node["staleStatusByPartition"] == ["FRESH"] * len(BACKFILLED_PARTITIONS)
