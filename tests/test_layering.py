"""The layering the import contracts cannot see: DAG files (not a package) import batch only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
OURS = {"shared_schemas", "core", "batch", "online", "tandem_cli", "dags", "tests"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "dags").glob("*.py")), ids=lambda p: p.name)
def test_dags_import_only_batch_of_ours(path: Path) -> None:
    assert _imports(path) & OURS <= {"batch"}


def test_nothing_imports_dags() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("shared_schemas", "core", "batch", "online", "tandem_cli")
        for p in (ROOT / pkg).rglob("*.py")
        if "dags" in _imports(p)
    ]
    assert offenders == []
