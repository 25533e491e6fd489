"""Layers import one way: engine knows no database or web, domain knows no web or CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tutela"
ENGINE = {"media", "signals", "matching"}
EDGES = {"api", "ui", "cli"}
WEB_AND_CLI = {"fastapi", "starlette", "typer", "click", "jinja2", "uvicorn", "rich"}
DATABASE = {"sqlalchemy", "alembic", "psycopg"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def package_files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def forbidden_for(package: str) -> set[str]:
    if package in ENGINE:
        tutela_layers = {f"tutela.{p}" for p in EDGES | {"db", "indicators"}}
        return tutela_layers | WEB_AND_CLI | DATABASE
    if package not in EDGES and package != "db":
        return {f"tutela.{p}" for p in EDGES} | WEB_AND_CLI
    return set()


@pytest.mark.parametrize(
    "package", sorted(p.name for p in SRC.iterdir() if p.is_dir() and p.name != "__pycache__")
)
def test_no_module_imports_upward(package: str) -> None:
    forbidden = forbidden_for(package)
    offenders = []
    for path in package_files(package):
        for module in imported_modules(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(SRC)} imports {module}")
    assert not offenders


def test_leaf_modules_import_nothing_internal() -> None:
    for leaf in ("errors.py",):
        assert not {m for m in imported_modules(SRC / leaf) if m.startswith("tutela")}
