"""The Kubernetes deployment files parse and carry the keys that matter: the Dagster chart's
values (our user deployment, K8sRunLauncher, external PostgreSQL, secrets, one daemon, one run
at a time), the migrations Job, and a Dockerfile that is multi-stage, non-root and installs the
project from its pins."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"portfolio-secrets", "portfolio-ib"}


def _values() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())


def _image(values: dict) -> dict:
    return values["dagster-user-deployments"]["deployments"][0]["image"]


def test_values_deploy_our_code_location_with_its_secrets():
    values = _values()
    user = values["dagster-user-deployments"]
    assert user["enabled"] and user["enableSubchart"]
    (deployment,) = user["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "orchestration.definitions"]
    assert deployment["port"] == 3030
    assert {s["name"] for s in deployment["envSecrets"]} == SECRETS
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["PORTFOLIO_MARKET_DATA"] == "fmp"
    for secret in ("FMP_API_KEY", "PORTFOLIO_DATABASE_URL", "PGPASSWORD", "IB_ACCOUNT"):
        assert secret not in env  # from the secrets only


def test_values_launch_runs_as_kubernetes_jobs_and_run_one_daemon_one_run_at_a_time():
    values = _values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert {s["name"] for s in launcher["envSecrets"]} == SECRETS
    assert launcher["loadInclusterConfig"] is True
    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] is True
    assert "replicaCount" not in daemon
    coordinator = daemon["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == 1
    assert {"key": "portfolio/execution", "limit": 1} in queued["tagConcurrencyLimits"]


def test_values_use_an_external_postgresql_with_the_psycopg2_scheme():
    values = _values()
    postgres = values["postgresql"]
    assert postgres["enabled"] is False
    assert postgres["postgresqlHost"]
    assert postgres["postgresqlScheme"] == "postgresql+psycopg2"
    assert "postgresqlPassword" not in postgres
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"


def test_migrations_job_runs_the_upgrade_with_the_deployment_image_and_secrets():
    job = yaml.safe_load((ROOT / "deploy" / "k8s" / "migrations-job.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True
    (container,) = spec["containers"]
    assert container["command"] == ["portfolio", "db", "upgrade"]
    image = _image(_values())
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert set(refs) == {"PORTFOLIO_DATABASE_URL", "PGPASSWORD"}
    assert set(refs.values()) == {"portfolio-secrets"}


def test_dockerfile_is_multi_stage_non_root_and_installs_from_the_pins():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", text, flags=re.MULTILINE)
    assert [name for _image, name in stages] == ["build", "runtime"]
    assert "--constraint deploy/constraints.txt" in text
    assert "COPY --from=build /opt/venv /opt/venv" in text
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001", runtime, flags=re.MULTILINE)
    assert "pip install" not in runtime
    # The files the code reads from the project root at run time (the CLI's run origins, the
    # instance file of a new home) are in the image's app folder.
    copied = " ".join(re.findall(r"^COPY (?!--from)(.+)$", text, flags=re.MULTILINE)).split()
    assert {"workspace.yaml", "dagster.yaml", "pyproject.toml"} <= set(copied)
    constraints = (ROOT / "deploy" / "constraints.txt").read_text()
    for pin in ("dagster==1.13.27", "dagster-postgres==0.29.27", "tenacity==9.2.1"):
        assert pin in constraints.splitlines()
