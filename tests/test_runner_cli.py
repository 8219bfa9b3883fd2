"""`updown run` refuses bad input before connecting to anything: LIVE on Polymarket without
POLYMARKET_PRIVATE_KEY exits 2 naming the variable; malformed flags exit 2 naming the option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("runner-cli")

BIN = Path(sys.executable).parent / "updown"


def updown(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYMARKET_")}
    clean["UPDOWN_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"  # never reached
    clean.update(env)
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=60, env=clean)


def test_live_on_polymarket_without_a_key_exits_2_naming_the_variable():
    result = updown("run", "--mode", "live", "--venue", "polymarket", "--health-port", "0")
    assert result.returncode == 2, result.stderr
    assert "POLYMARKET_PRIVATE_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_key_exits_2_without_echoing_it():
    key = "0x" + "zz" * 32
    result = updown("run", "--mode", "live", "--venue", "polymarket", POLYMARKET_PRIVATE_KEY=key)
    assert result.returncode == 2
    assert "POLYMARKET_PRIVATE_KEY" in result.stderr and key not in result.stderr


@pytest.mark.parametrize(
    "args, named",
    [
        (["--mode", "sideways", "--venue", "sandbox"], "--mode"),
        (["--mode", "paper", "--venue", "sandbox"], "sandbox-url"),
        (["--mode", "paper", "--venue", "polymarket", "--assets", "BTC,LUNA"], "LUNA"),
        (["--mode", "paper", "--venue", "polymarket", "--strategies", "nosuch"], "nosuch"),
    ],
)
def test_bad_flags_exit_2_naming_the_problem(args, named):
    result = updown("run", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert named in result.stderr + result.stdout
