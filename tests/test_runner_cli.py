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


@pytest.mark.parametrize(
    "args, named",
    [
        (["--mode", "paper", "--venue", "kraken"], "--venue"),
        (["--mode", "paper", "--venue", "polymarket", "--window-seconds", ""], "--window-seconds"),
        (
            ["--mode", "paper", "--venue", "polymarket", "--window-seconds", "5m"],
            "--window-seconds",
        ),
        (["--mode", "paper", "--venue", "polymarket", "--paper-balance", "NaN"], "paper_balance"),
    ],
)
def test_more_bad_flags_exit_2_in_one_line(args, named):
    result = updown("run", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert named in result.stderr and "Traceback" not in result.stderr


def test_a_venue_that_does_not_answer_at_start_is_one_line_exit_1(db_url):
    from tests_support import free_port

    silent = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    args = ["--mode", "paper", "--venue", "sandbox", "--sandbox-url", silent,
            "--health-port", str(free_port())]  # fmt: skip
    result = updown("run", *args, UPDOWN_DATABASE_URL=db_url)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: venue sandbox: ")


@pytest.mark.parametrize("balance", ["NaN", "-1", "lots", "Infinity"])
def test_the_sandbox_refuses_a_bad_start_balance_naming_the_flag(balance):
    result = updown("sandbox", "--port", "0", "--start-balance", balance)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: --start-balance {balance!r}")
