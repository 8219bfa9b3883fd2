"""Control values at the edges (a trailing newline, over-long values) and the audit trail of
direct SQL (UPDATE that states nobody, DELETE) — issue 22, items 5 and 6."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from typer.testing import CliRunner

from live.kernel.controls import DEFAULTS, MAX_VALUE_LENGTH, InvalidControl, validate
from live.store import controls
from updown.cli import app

EDGE = [
    ("max_position_usd", "5\n"),
    ("max_session_loss", "20\n"),
    ("allowed_strategies", "canary\n"),
    ("allowed_strategies", "canary\nvwap"),
    ("allowed_instruments", "BTC\n"),
    ("kill_switch", "pause\n"),
    ("trading_mode", "LIVE\n"),
    ("allowed_strategies", "a" * 9000),
    ("allowed_strategies", ",".join(["canary"] * 1200)),
    ("max_session_loss", "9" * (MAX_VALUE_LENGTH + 1)),
    ("allowed_strategies", "canary\x00"),
    ("max_position_usd", "١"),  # an Arabic-Indic digit: \d would take it, [0-9] does not
]


@pytest.fixture
def cli(db_url, monkeypatch):
    monkeypatch.setenv("UPDOWN_DATABASE_URL", db_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def rows(url: str, query: str, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def audit(url: str):
    return rows(
        url,
        "SELECT key, old_value, new_value, changed_by, db_role, operation FROM control_changes"
        " ORDER BY id",
    )


@pytest.mark.parametrize(("key", "value"), EDGE)
def test_edge_value_is_refused_by_code_with_a_one_line_message(key, value):
    with pytest.raises(InvalidControl) as info:
        validate(key, value)
    message = str(info.value)
    assert "\n" not in message and "\x00" not in message and len(message) < 400
    assert message.startswith(f"{key}=")


@pytest.mark.parametrize(("key", "value"), [kv for kv in EDGE if "\x00" not in kv[1]])
def test_edge_value_is_refused_by_the_schema_too(db_url, key, value):
    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE runtime_controls SET value = %s WHERE key = %s", (value, key))


@pytest.mark.parametrize(("key", "value"), [kv for kv in EDGE if "\x00" not in kv[1]])
def test_cli_refuses_edge_value_with_one_line_exit_2_and_writes_nothing(cli, db_url, key, value):
    before = audit(db_url)
    result = cli("control", "set", key, value)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(f"error: {key}=")
    assert dict(rows(db_url, "SELECT key, value FROM runtime_controls")) == DEFAULTS
    assert audit(db_url) == before


def test_longest_allowed_value_is_written_and_announced(db_url):
    names = ",".join(f"s{i:03d}" for i in range(MAX_VALUE_LENGTH // 5))
    assert len(names) <= MAX_VALUE_LENGTH
    with psycopg.connect(db_url) as conn:
        controls.write(conn, "allowed_strategies", names, "alice")
    assert rows(db_url, "SELECT value FROM runtime_controls WHERE key='allowed_strategies'") == [
        (names,)
    ]


def test_application_write_records_the_stated_actor_and_the_database_role(db_url):
    with psycopg.connect(db_url) as conn:
        controls.write(conn, "kill_switch", "pause", "dashboard:alice")
        controls.write(conn, "kill_switch", "off", "dashboard:alice")  # same actor twice
        (role,) = conn.execute("SELECT session_user").fetchone()
    assert audit(db_url)[-2:] == [
        ("kill_switch", "off", "pause", "dashboard:alice", role, "UPDATE"),
        ("kill_switch", "pause", "off", "dashboard:alice", role, "UPDATE"),
    ]


def test_sql_update_that_states_nobody_is_not_audited_under_the_previous_changer(db_url):
    with psycopg.connect(db_url) as conn:
        controls.write(conn, "max_position_usd", "2", "alice")
        conn.execute("UPDATE runtime_controls SET value = '3' WHERE key = 'max_position_usd'")
        conn.commit()
        (role,) = conn.execute("SELECT session_user").fetchone()
    last = audit(db_url)[-1]
    assert last == ("max_position_usd", "2", "3", "(not stated)", role, "UPDATE")
    assert rows(db_url, "SELECT updated_by FROM runtime_controls WHERE key='max_position_usd'") == [
        ("(not stated)",)
    ]


def test_sql_update_that_states_its_actor_is_audited_under_that_actor(db_url):
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE runtime_controls SET value = 'pause', updated_by = 'bob'"
            " WHERE key = 'kill_switch'"
        )
        conn.commit()
        with conn.transaction():
            conn.execute("SET LOCAL updown.actor = 'carol'")
            conn.execute("UPDATE runtime_controls SET value = 'off' WHERE key = 'kill_switch'")
    assert [r[3] for r in audit(db_url)[-2:]] == ["bob", "carol"]


def test_sql_delete_is_audited_announced_and_show_exits_non_zero_naming_the_key(cli, db_url):
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN updown_controls")
        with psycopg.connect(db_url) as conn:
            conn.execute("DELETE FROM runtime_controls WHERE key = 'kill_switch'")
            conn.commit()
            (role,) = conn.execute("SELECT session_user").fetchone()
        notes = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert notes == ['{"key" : "kill_switch", "value" : null}']
    assert audit(db_url)[-1] == ("kill_switch", "off", None, "(not stated)", role, "DELETE")
    result = cli("control", "show")
    assert result.exit_code == 1
    assert "kill_switch=<missing>" in result.stdout
    assert "missing control kill_switch" in result.stderr
    with psycopg.connect(db_url) as conn, pytest.raises(InvalidControl, match="kill_switch"):
        controls.read(conn)  # what the runner reads: it fails closed
    assert cli("control", "set", "kill_switch", "pause").exit_code == 0
    assert cli("control", "show").exit_code == 0


def test_console_script_fast_path_refuses_a_trailing_newline_in_one_line(db_url):
    env = {**os.environ, "UPDOWN_DATABASE_URL": db_url}
    updown = os.path.join(os.path.dirname(sys.executable), "updown")
    proc = subprocess.run(
        [updown, "control", "set", "max_position_usd", "5\n"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: max_position_usd='5\\n' rejected: must be a decimal")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    shown = subprocess.run(
        [updown, "control", "show"], env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0 and "max_position_usd=5\n" in shown.stdout
