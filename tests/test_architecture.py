"""domain/ is the core: it must not know about the GraphQL edge or the web framework."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("graph", "strawberry", "fastapi", "starlette")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_domain_imports_neither_the_edge_nor_the_web_framework() -> None:
    # given every module of domain/
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "domain").rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    # then none of them imports graph/, strawberry or fastapi
    assert offenders == []


def test_domain_uses_no_savepoints() -> None:
    # pysqlite (under aiosqlite) runs its own legacy transaction handling: a SAVEPOINT
    # opened before any write starts no transaction, so its RELEASE commits for good and
    # a later rollback keeps the rows. Services let a failed write abort the transaction.
    users = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "domain").rglob("*.py"))
        if "begin_nested(" in path.read_text()
    ]
    assert users == []


def test_the_check_sees_imports(tmp_path: Path) -> None:
    # given a module that imports the edge
    module = tmp_path / "bad.py"
    module.write_text("import strawberry\nfrom graph.app import create_app\n")
    # then the scanner reports both imports (so the test above can fail)
    assert imported_modules(module) == ["strawberry", "graph.app"]
