"""Dependency direction (DESIGN §2): live/ never imports research/, panel_app/ or sandbox/;
sandbox/ imports nothing from the project; research/ and panel_app/ never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = {"updown", "live", "research", "strategies", "sandbox", "panel_app"}
FORBIDDEN = {
    "live": {"research", "panel_app", "sandbox", "updown"},
    "sandbox": PROJECT - {"sandbox"},
    "research": {"panel_app", "sandbox", "updown"},
    "panel_app": {"research", "sandbox", "updown"},
    "strategies": {"research", "panel_app", "sandbox", "updown"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value).split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_dependency_direction(package):
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert offenders == []


def test_checker_sees_a_forbidden_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import research.stats\nfrom sandbox import app\n")
    assert {"research", "sandbox"} <= imported_top_levels(sample)
