"""The environment files agree with pyproject.toml, the source of truth for dependencies; the
core install (no extras, not editable, in a fresh venv) runs the core commands, and a command
that needs an extra says which."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from process_kit import get_json, operator
from tests_support import free_port

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


# ---------------------------------------------------------------- the core install, for real

PACKAGES = ("updown", "live", "research", "strategies", "sandbox", "panel_app")
core = pytest.mark.xdist_group("core-install")


@pytest.fixture(scope="module")
def core_bin(tmp_path_factory) -> Path:
    """`pip install -c constraints.txt <a copy of this checkout>` into a fresh venv: the core
    set, no extras, not editable. Returns the venv's bin directory."""
    root = tmp_path_factory.mktemp("core-install")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for package in PACKAGES:
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    python = root / "venv" / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "-c", str(REPO / "constraints.txt")]
    done = subprocess.run([*pip, str(src)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return python.parent


def core_env(db_url: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "UPDOWN_DATABASE_URL": db_url}


@core
@pytest.mark.slow
def test_the_core_install_has_numpy_and_none_of_the_extras(core_bin):
    probe = "import importlib.util as u; print([m for m in {} if u.find_spec(m)])"
    wanted = ["numpy", "pandas", "scipy", "statsmodels", "panel", "papermill", "dask"]
    out = subprocess.run(
        [str(core_bin / "python"), "-c", probe.format(wanted)], capture_output=True, text=True
    )
    assert out.stdout.strip() == "['numpy']", out.stderr


@core
@pytest.mark.slow
def test_the_core_install_runs_the_core_commands(core_bin, db_url, tmp_path):
    with operator(core_bin, core_env(db_url), tmp_path) as op:
        for args in (["--help"], ["sandbox", "--help"], ["run", "--help"], ["control", "--help"]):
            result = op.run(*args)
            assert result.returncode == 0 and "Usage: updown" in result.stdout, result.stderr
        assert op.run("db", "url").stdout.strip() == db_url
        assert "kill_switch=off" in op.run("control", "show").stdout
        unreachable = op.run("status", "--url", f"http://127.0.0.1:{free_port()}/health")
        assert unreachable.returncode == 1 and "unreachable" in unreachable.stderr
        sandbox = op.start_sandbox("--assets", "BTC", "--window-seconds", "60")
        health = op.start_runner(sandbox, free_port(), "--assets", "BTC", "--window-seconds", "60")
        status = op.run("status", "--url", health)
        assert status.returncode == 0 and json.loads(status.stdout)["trading_state"] == "ACTIVE"
        assert op.run("control", "pause").returncode == 0
        op.wait("runner", lambda: get_json(health)["trading_state"] == "PAUSED", "PAUSED")
        assert op.run("control", "resume").returncode == 0


@core
@pytest.mark.slow
def test_the_core_install_converts_and_replays_a_real_day(core_bin, shared_data, tmp_path):
    day = "2026-06-08"
    env = core_env("postgresql://nobody@127.0.0.1:1/none")  # never reached
    with operator(core_bin, env, tmp_path) as op:
        sources = (
            ("chainlink", f"chainlink_btcusd_{day}.csv.gz", "oracle.jsonl.gz"),
            ("gamma-markets", f"gamma_btc_5m_markets_{day}.jsonl.gz", "windows.jsonl"),
        )
        for fmt, name, out in sources:
            done = op.run("convert", fmt, str(shared_data / name), "-o", out)
            assert done.returncode == 0, done.stderr
        replayed = op.run("replay", "oracle.jsonl.gz", "windows.jsonl", timeout=300)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines()[-1] == "settlements: agree=280 disagree=0 uncertain=12"


@core
@pytest.mark.slow
@pytest.mark.parametrize(
    "args, extra",
    [
        (["prereg", "new", "--help"], "research"),
        (["backtest", "canary", "--from", "2026-06-08"], "research"),
        (["promote", "--status"], "research"),
        (["demo", "--duration", "1"], "research"),
        (["dashboard"], "dashboard"),
    ],
)
def test_a_command_that_needs_an_extra_says_which_in_one_line(core_bin, args, extra, tmp_path):
    env = core_env("postgresql://nobody@127.0.0.1:1/none")  # never reached
    result = subprocess.run([str(core_bin / "updown"), *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"from the {extra} extra" in result.stderr and f"updown[{extra}]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
