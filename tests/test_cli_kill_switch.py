"""The kill switch verbs as the operator types them: the short path (no typer argument
machinery, no pydantic) writes, audits and prints exactly what the typer command does; anything
else still goes through typer; a database that cannot be used is one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from updown.cli import app

BIN = Path(sys.executable).parent / "updown"
PROBE = """
import sys
sys.argv = ["updown", *sys.argv[1:]]
from updown.cli import main
try:
    main()
except SystemExit as exc:
    print("exit", exc.code, "pydantic" in sys.modules, file=sys.stderr)
"""


def updown(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "UPDOWN_DATABASE_URL": db_url}
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60)


def audit(db_url: str) -> list[tuple[str, str, str, str]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT key, old_value, new_value, changed_by FROM control_changes "
            "WHERE changed_by <> 'migration' ORDER BY id"
        ).fetchall()


@pytest.mark.parametrize(
    "verb, value", [("pause", "pause"), ("flatten", "flatten"), ("emergency", "emergency")]
)
def test_each_verb_writes_audits_and_prints_like_the_typer_command(verb, value, db_url):
    typed = updown(db_url, "control", verb, "--by", "alice")
    assert (typed.returncode, typed.stdout, typed.stderr) == (
        0,
        f"kill_switch: off -> {value}\n",
        "",
    )
    resumed = CliRunner().invoke(
        app, ["control", "resume", "--by", "bob"], env={"UPDOWN_DATABASE_URL": db_url}
    )
    assert resumed.exit_code == 0 and resumed.output == f"kill_switch: {value} -> off\n"
    again = updown(db_url, "control", "resume")
    assert again.stdout == "kill_switch: off -> off\n"
    assert audit(db_url)[:2] == [
        ("kill_switch", "off", value, "alice"),
        ("kill_switch", value, "off", "bob"),
    ]


def test_the_short_path_imports_no_pydantic_and_the_rest_goes_through_typer(db_url):
    """Which forms take updown.fast_paths (pydantic never imported) and which typer."""
    env = {**os.environ, "UPDOWN_DATABASE_URL": db_url}

    def probe(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        return done.stderr.strip().splitlines()[-1]

    short = [
        ("control", "pause"),
        ("control", "resume", "--by", "carol"),
        ("control", "show"),
        ("control", "set", "max_position_usd", "2.5", "--by", "dave"),
        ("control", "set", "max_position_usd", "50"),  # refused (exit 2), by the same function
    ]
    assert [probe(*args) for args in short] == [
        "exit 0 False",
        "exit 0 False",
        "exit 0 False",
        "exit 0 False",
        "exit 2 False",
    ]
    through_typer = [
        ("control", "pause", "--help"),  # the help text
        ("control", "pause", "--by"),  # "requires an argument"
        ("control", "pause", "--by", "--help"),
        ("control", "pause", "--by=erin"),
        ("control", "show", "--by", "x"),  # no such option
        ("control", "set", "max_session_loss", "-5"),  # a value that looks like an option
    ]
    assert [probe(*args) for args in through_typer] == [
        "exit 0 True",
        "exit 2 True",
        "exit 0 True",
        "exit 0 True",
        "exit 2 True",
        "exit 2 True",
    ]


def test_an_unreachable_database_is_one_line_exit_1():
    for args in (["control", "pause"], ["control", "show"], ["db", "status"]):
        result = updown("postgresql://nobody@127.0.0.1:1/none", *args)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("error: cannot use the database: ")
        assert len(result.stderr.strip().splitlines()) == 1


def test_an_unmigrated_database_says_to_migrate(empty_db_url):
    for args in (["control", "pause"], ["control", "show"]):
        result = updown(empty_db_url, *args)
        assert result.returncode == 1
        assert "run `updown db migrate`" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
