"""House rules that keep the layers apart (DESIGN.md section 1)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_ANALYTICS = {
    "dagster",
    "sqlalchemy",
    "httpx",
    "ib_async",
    "ib_insync",
    "alembic",
    "psycopg",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_analytics_lib_imports_no_side_effect_library():
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN_IN_ANALYTICS)
        for path in (ROOT / "analytics_lib").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_settings_reads_the_environment():
    readers = [
        str(path.relative_to(ROOT))
        for package in ("analytics_lib", "orchestration")
        for path in (ROOT / package).rglob("*.py")
        if "os.environ" in path.read_text() or "os.getenv" in path.read_text()
    ]
    assert readers == ["orchestration/settings.py"]
