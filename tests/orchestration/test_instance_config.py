"""The Dagster instance file: written once into a new DAGSTER_HOME, never overwritten."""

import subprocess
from pathlib import Path

from orchestration.cli.runs import instance_for
from tests.support import make_settings

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_instance_folder_gets_the_project_instance_file(tmp_path):
    settings = make_settings(tmp_path)
    instance = instance_for(settings)
    written = settings.dagster_home / "dagster.yaml"
    assert written.read_text() == (ROOT / "dagster.yaml").read_text()
    assert type(instance).__name__ == "PortfolioInstance"
    assert instance.run_coordinator is not None


def test_an_existing_instance_file_is_never_overwritten(tmp_path):
    settings = make_settings(tmp_path)
    settings.dagster_home.mkdir(parents=True)
    custom = "telemetry:\n  enabled: false\n"
    (settings.dagster_home / "dagster.yaml").write_text(custom)
    instance_for(settings)
    assert (settings.dagster_home / "dagster.yaml").read_text() == custom
    subprocess.run(
        ["make", "-s", "instance", f"DAGSTER_HOME={settings.dagster_home}"],
        cwd=ROOT,
        check=True,
    )
    assert (settings.dagster_home / "dagster.yaml").read_text() == custom
