"""Real Dagster processes for tests: the webserver, a gRPC code server and the daemon.

Each process starts in its own process group (its children, e.g. the code server the webserver
spawns for a ``python_module`` workspace, share it) on a free port of 127.0.0.1, with the
environment the test gives (``DAGSTER_HOME``, ``PORTFOLIO_HOME``, settings), and is stopped by
its own group id: SIGTERM, then SIGKILL after a grace period. Nothing else is signalled. The
GraphQL API is queried over HTTP with httpx.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
READY_TIMEOUT = 180.0
STOP_GRACE = 20.0
POLL_SECONDS = 0.5


class ProcessFailed(RuntimeError):
    """A service exited, or was not ready in time; the message ends with its log."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Service:
    """One started process (the leader of its own process group) and its log file."""

    name: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the process's combined standard output and error."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def require_running(self) -> None:
        """Raise :class:`ProcessFailed` with the log when the process has exited."""
        code = self.process.poll()
        if code is not None:
            raise ProcessFailed(f"{self.name} exited with {code}:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL to it after the grace period."""
        group = self.process.pid
        if self.process.poll() is None:
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(group, signal.SIGKILL)
                self.process.wait(timeout=STOP_GRACE)
        with suppress(ProcessLookupError):  # children left behind by a leader that exited
            os.killpg(group, signal.SIGKILL)


def start(name: str, args: list[str], env: Mapping[str, str], logs: Path) -> Service:
    """Start ``args`` (a program of this venv) in its own process group, in the project root."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / args[0]), *args[1:]],
            cwd=PROJECT_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(name, process, log)


def wait_until(
    ready: Callable[[], bool], services: list[Service], what: str, timeout: float = READY_TIMEOUT
) -> None:
    """Poll ``ready`` until it is true; fail at once when a service exits."""
    deadline = time.monotonic() + timeout
    while True:
        for service in services:
            service.require_running()
        if ready():
            return
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in services)
            raise ProcessFailed(f"{what} not ready after {timeout:.0f} s\n{logs}")
        time.sleep(POLL_SECONDS)


class GraphQLError(RuntimeError):
    """The GraphQL API answered with errors."""


@dataclass
class Webserver:
    """A running ``dagster-webserver``: its base URL and the processes of the deployment."""

    url: str
    services: list[Service]

    def graphql(self, query: str, variables: Mapping[str, object] | None = None) -> dict:
        """The ``data`` of a GraphQL query or mutation; errors raise :class:`GraphQLError`."""
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": dict(variables or {})},
            timeout=120.0,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(str(body["errors"]))
        return body["data"]

    def require_running(self) -> None:
        """Raise when any process of the deployment has exited."""
        for service in self.services:
            service.require_running()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/server_info", timeout=5.0).status_code == 200
    except httpx.HTTPError:
        return False


LOCATIONS_QUERY = """
query {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def _locations_loaded(server: Webserver) -> bool:
    entries = server.graphql(LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
    for entry in entries:
        error = entry["locationOrLoadError"]
        if error and error["__typename"] == "PythonError":
            raise ProcessFailed(f"code location {entry['name']} failed to load: {error['message']}")
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def grpc_workspace(path: Path, location_name: str, port: int) -> Path:
    """A workspace file naming one code location served by a gRPC code server."""
    path.write_text(
        "load_from:\n"
        "  - grpc_server:\n"
        "      host: 127.0.0.1\n"
        f"      port: {port}\n"
        f"      location_name: {location_name}\n"
    )
    return path


@contextmanager
def code_server(env: Mapping[str, str], logs: Path) -> Iterator[int]:
    """``dagster code-server start`` for ``orchestration.definitions``; yields its port once it
    answers the gRPC health check."""
    port = free_port()
    service = start(
        "code-server",
        [
            "dagster",
            "code-server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--module-name",
            "orchestration.definitions",
            "--working-directory",
            str(PROJECT_ROOT),
        ],
        env,
        logs,
    )
    try:

        def healthy() -> bool:
            check = subprocess.run(
                [str(BIN / "dagster"), "api", "grpc-health-check", "--port", str(port)],
                env=dict(env),
                capture_output=True,
                timeout=60,
            )
            return check.returncode == 0

        wait_until(healthy, [service], "the gRPC code server")
        yield port
    finally:
        service.stop()


@contextmanager
def webserver(
    env: Mapping[str, str], logs: Path, workspace: Path, *, daemon: bool = False
) -> Iterator[Webserver]:
    """``dagster-webserver`` on ``workspace`` (and ``dagster-daemon run`` on the same instance
    and workspace when ``daemon``), ready once every code location of the workspace is loaded.
    Both are stopped on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        services = []
        web = start(
            "webserver",
            ["dagster-webserver", "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)],
            env,
            logs,
        )
        stack.callback(web.stop)
        services.append(web)
        if daemon:
            runner = start("daemon", ["dagster-daemon", "run", "-w", str(workspace)], env, logs)
            stack.callback(runner.stop)
            services.append(runner)
        server = Webserver(url, services)
        wait_until(lambda: _answers(url), services, "the webserver")
        wait_until(lambda: _locations_loaded(server), services, "the code location")
        yield server


def run_cli(args: list[str], env: Mapping[str, str], timeout: float = 600.0) -> str:
    """Run ``portfolio ARGS`` in a child process with ``env``; its standard output, or an
    assertion error with both streams when it fails."""
    done = subprocess.run(
        [str(BIN / "portfolio"), *args],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"portfolio {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def service_environment(home: Path, **settings: str) -> dict[str, str]:
    """This process's environment with a fresh state folder and instance in ``home`` and the
    given settings, without any ``PORTFOLIO_*``, ``DAGSTER_*`` or ``IB_*`` variable of the
    caller."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PORTFOLIO_", "DAGSTER_", "IB_", "FMP_"))
    }
    return {
        **inherited,
        "PORTFOLIO_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        **settings,
    }
