"""The environment files agree with pyproject.toml, the source of truth for dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_environment_yml_is_thin_and_installs_the_project():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-e .[dev]" in pip_section


def test_pyproject_requires_python_311_and_pins_the_sdk():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "polymarket-client==0.14.0" in project["dependencies"]
    assert project["scripts"]["updown"] == "updown.cli:main"


def test_lock_file_pins_every_direct_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = {
        re.split(r"[=<>]", line)[0].lower().replace("_", "-")
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    direct = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        direct += [d for d in extra if not d.startswith("updown[")]
    names = {re.split(r"[\[=<>!~ ;]", d)[0].lower().replace("_", "-") for d in direct}
    assert names - locked == set()


def test_ci_runs_exactly_make_test():
    script = (REPO / ".ci" / "run").read_text()
    assert "make test" in script and "set -euo pipefail" in script
