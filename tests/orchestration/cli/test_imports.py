"""The commands that run no pipeline never import Dagster (issue 17: about a second of a two
second budget). Each check runs in a fresh interpreter, since this test process has Dagster
loaded already; the commands run for real on a new state folder (migrated on first use)."""

import subprocess
import sys
import textwrap

import pytest

SMALL_COMMANDS = [  # (arguments, exit code on a new state folder)
    (["basket", "list", "--json"], 0),
    (["basket", "create", "tech", "--tickers", "AAA,BBB"], 2),  # unknown tickers: refused
    (["trade", "list", "--json"], 0),
    (["trade", "status", "1"], 2),  # no such group
    (["trading", "halt", "--reason", "test"], 0),
    (["trading", "status", "--json"], 0),
    (["risk", "show", "--json"], 2),  # no snapshot yet
]


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def env(tmp_path):
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PORTFOLIO_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }


@pytest.mark.parametrize(
    "module",
    [
        "orchestration.cli",
        "orchestration.cli.baskets",
        "orchestration.cli.trading",
        "orchestration.cli.risk",
        "orchestration.cli.database",
        "orchestration.cli.broker",
    ],
)
def test_small_command_modules_do_not_import_dagster(module, env):
    line = _python(f"import sys, {module}; print('dagster' in sys.modules)", env)
    assert line == "False"


def test_the_full_parser_does_not_import_dagster(env):
    """``portfolio --help`` registers every command: no command module imports Dagster at
    its top."""
    line = _python(
        """
        import sys
        from orchestration.cli import build_parser
        commands = build_parser()._subparsers._group_actions[0].choices
        print(len(commands), 'dagster' in sys.modules)
        """,
        env,
    )
    assert line == "14 False"


@pytest.mark.parametrize(("argv", "code"), SMALL_COMMANDS, ids=lambda value: str(value))
def test_small_commands_run_without_dagster(argv, code, env):
    line = _python(
        f"""
        import sys
        from orchestration.cli import main
        code = main({argv!r})
        print(code, 'dagster' in sys.modules)
        """,
        env,
    )
    assert line == f"{code} False"


def test_the_check_sees_dagster_when_it_is_imported(env):
    """The checks above can fail: the definitions (what a job command builds) load Dagster."""
    line = _python("import sys, orchestration.definitions; print('dagster' in sys.modules)", env)
    assert line == "True"
