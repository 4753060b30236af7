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


def _domain_of(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    if parts[:2] == ("orchestration", "defs") and len(parts) > 3:
        return parts[2]
    return None


def test_no_file_outside_a_domain_imports_its_private_helpers():
    offenders = []
    for package in ("orchestration", "tests", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            home = _domain_of(path)
            for node in ast.walk(ast.parse(path.read_text())):
                if not (isinstance(node, ast.ImportFrom) and node.module):
                    continue
                parts = node.module.split(".")
                if parts[:2] != ["orchestration", "defs"] or len(parts) < 3 or parts[2] == home:
                    continue
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private or any(part.startswith("_") for part in parts[3:]):
                    offenders.append(f"{path.relative_to(ROOT)}: {node.module} {private}")
    assert offenders == []


def test_every_domain_folder_says_what_it_owns():
    domains = [
        p for p in (ROOT / "orchestration" / "defs").iterdir() if (p / "__init__.py").exists()
    ]
    assert len(domains) >= 4
    for domain in domains:
        docstring = ast.get_docstring(ast.parse((domain / "__init__.py").read_text()))
        assert docstring, f"{domain.name}/__init__.py has no docstring"
