"""The dependency direction of DESIGN.md is law: this test fails when an import breaks it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "registry": {"gateway", "runners", "litestar", "authlib", "torch", "diffusers", "peft", "transformers"},
    "runners": {"gateway", "registry"},
}


def _imported_roots(path: Path) -> set[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_what_design_forbids(package: str) -> None:
    violations = [
        f"{path.relative_to(ROOT)}:{line} imports {root}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, root in _imported_roots(path)
        if root in FORBIDDEN[package]
    ]
    assert violations == []


def test_nothing_imports_gateway() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("registry", "runners", "migrations")
        for path in (ROOT / folder).rglob("*.py")
        if any(root == "gateway" for _, root in _imported_roots(path))
    ]
    assert offenders == []


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom gateway.app import create_app\n")
    assert (2, "gateway") in _imported_roots(bad)
