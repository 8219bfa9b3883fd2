"""Dependency direction (DESIGN §2): live/ never imports research/, panel_app/ or sandbox/;
sandbox/ imports nothing from the project; research/ and panel_app/ never import each other. The
kernel (live/kernel/) imports only itself and the pure part of the standard library, and reads no
clock and no file. No two modules of live/, research/ or strategies/ import each other in a
circle (issue 12)."""

from __future__ import annotations

import ast
import graphlib
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


# ---------------------------------------------------------------------- the kernel room (issue 12)

KERNEL = REPO / "live" / "kernel"
# Standard-library modules the deterministic kernel may use: data structures, exact arithmetic,
# typing. Everything else in the standard library does IO, threads or reads a clock (os, pathlib,
# io, gzip, socket, threading, asyncio, time, importlib, logging, ...), so it is not listed.
KERNEL_STDLIB = {
    "__future__", "bisect", "collections", "dataclasses", "datetime", "decimal", "enum",
    "functools", "heapq", "itertools", "math", "operator", "re", "typing",
}  # fmt: skip
# Calls that read the wall clock or the file system, whatever module they come from.
IMPURE_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "open", "sleep"}


def _imports(path: Path) -> list[str]:
    """Every module `path` imports (absolute names; `from x import y` gives `x` and `x.y`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _impure_calls(path: Path) -> list[str]:
    """`LINE calls NAME()` for every call of a clock or file function in `path`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    calls = (node for node in ast.walk(tree) if isinstance(node, ast.Call))
    named = (
        (c.lineno, getattr(c.func, "attr", None) or getattr(c.func, "id", None)) for c in calls
    )
    return [f"{line} calls {name}()" for line, name in named if name in IMPURE_CALLS]


def _kernel_may_import(name: str) -> bool:
    top = name.split(".")[0]
    if top == "live":
        return name == "live.kernel" or name.startswith("live.kernel.")
    return top in KERNEL_STDLIB


def test_the_kernel_imports_only_the_kernel_and_pure_standard_library():
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted(KERNEL.rglob("*.py"))
        for name in _imports(path)
        if not _kernel_may_import(name)
    ]
    assert offenders == []


def test_the_kernel_reads_no_clock_and_no_file():
    kernel = sorted(KERNEL.rglob("*.py"))
    assert [f"{p.relative_to(REPO)}:{c}" for p in kernel for c in _impure_calls(p)] == []


def test_the_purity_checker_sees_io_and_clock_reads(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text(
        "import gzip\nfrom live.runner import gateway\nimport time\nt = time.time()\n"
    )
    assert [n for n in _imports(sample) if not _kernel_may_import(n)] == [
        "gzip",
        "live.runner",
        "live.runner.gateway",
        "time",
    ]
    assert _impure_calls(sample) == ["4 calls time()"]


# ---------------------------------------------------------------------- no cycles between modules


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> the project modules it imports (at any depth: under TYPE_CHECKING and inside
    functions too — a cycle of design is a cycle even when Python tolerates it)."""
    paths = [p for pkg in packages for p in sorted((REPO / pkg).rglob("*.py"))]
    modules = {_module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for imported in _imports(path):
            # `from live.kernel import engine` names the module live.kernel.engine
            target = imported if imported in modules else imported.rsplit(".", 1)[0]
            if target in modules and target != name and not _is_package_of(target, name):
                deps.add(target)
        graph[name] = deps
    return graph


def _is_package_of(package: str, module: str) -> bool:
    """A module importing its own package's __init__ (a face) is not a cycle of design."""
    return module.startswith(package + ".")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


@pytest.mark.parametrize("packages", [("live",), ("research",), ("live", "research", "strategies")])
def test_no_import_cycle_between_modules(packages):
    assert find_cycle(import_graph(packages)) is None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
