"""Runtime controls: every rule enforced in code, by the CLI (exit 2, nothing written) and by the
schema (direct SQL); every change audited and announced with NOTIFY."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from decimal import Decimal

import psycopg
import pytest
from typer.testing import CliRunner

from live.kernel.controls import DEFAULTS, Controls, InvalidControl, validate
from live.kernel.limits import HARD_MAX_POSITION_USD
from live.store import controls
from updown.cli import app

INVALID = [
    ("kill_switch", "on"),
    ("kill_switch", "OFF"),
    ("trading_mode", "BACKTEST"),
    ("trading_mode", "live"),
    ("max_position_usd", "50"),
    ("max_position_usd", "5.01"),
    ("max_position_usd", "0"),
    ("max_position_usd", "-1"),
    ("max_position_usd", "abc"),
    ("max_position_usd", "NaN"),
    ("max_session_loss", "0"),
    ("max_session_loss", "-5"),
    ("max_session_loss", "1e3"),
    ("allowed_instruments", "DOGE"),
    ("allowed_instruments", "BTC, ETH"),
    ("allowed_instruments", "btc"),
    ("allowed_instruments", ""),
    ("allowed_strategies", ""),
    ("allowed_strategies", "canary,,vwap"),
    ("allowed_strategies", "Canary"),
    ("no_such_key", "1"),
]
VALID = [
    ("kill_switch", "off"),
    ("kill_switch", "pause"),
    ("kill_switch", "flatten"),
    ("kill_switch", "emergency"),
    ("trading_mode", "LIVE"),
    ("trading_mode", "DRY_RUN"),
    ("max_position_usd", "5"),
    ("max_position_usd", "0.5"),
    ("max_session_loss", "100.25"),
    ("allowed_instruments", "*"),
    ("allowed_instruments", "BTC,ETH,SOL,XRP"),
    ("allowed_strategies", "*"),
    ("allowed_strategies", "canary,vwap-c,always_trade"),
]


@pytest.fixture
def cli(db_url, monkeypatch):
    monkeypatch.setenv("UPDOWN_DATABASE_URL", db_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def table(db_url) -> dict[str, str]:
    with psycopg.connect(db_url) as conn:
        return controls.read_raw(conn)


def changes(db_url) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM control_changes").fetchone()[0]


@pytest.mark.parametrize(("key", "value"), INVALID)
def test_invalid_value_is_rejected_in_code(key, value):
    with pytest.raises(InvalidControl):
        validate(key, value)


@pytest.mark.parametrize(("key", "value"), VALID)
def test_valid_value_is_accepted_in_code(key, value):
    assert validate(key, value) == value


def test_defaults_are_valid_and_match_the_migration(db_url):
    assert table(db_url) == DEFAULTS
    assert Controls.from_mapping(DEFAULTS) == Controls()


@pytest.mark.parametrize(("key", "value"), [kv for kv in INVALID if kv[0] != "no_such_key"])
def test_invalid_value_is_rejected_by_the_schema(db_url, key, value):
    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE runtime_controls SET value = %s WHERE key = %s", (value, key))
    assert table(db_url) == DEFAULTS


def test_unknown_key_is_rejected_by_the_schema(db_url):
    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO runtime_controls (key, value) VALUES ('max_leverage', '10')")


@pytest.mark.parametrize(("key", "value"), VALID)
def test_valid_value_is_accepted_by_the_schema(db_url, key, value):
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE runtime_controls SET value = %s WHERE key = %s", (value, key))
    assert table(db_url)[key] == value


@pytest.mark.parametrize(("key", "value"), INVALID)
def test_cli_rejects_invalid_value_with_exit_2_and_writes_nothing(cli, db_url, key, value):
    before = changes(db_url)
    result = cli("control", "set", key, value)
    assert result.exit_code == 2
    assert key in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert table(db_url) == DEFAULTS
    assert changes(db_url) == before


def test_cli_names_the_hard_cap_when_max_position_is_raised(cli, db_url):
    result = cli("control", "set", "max_position_usd", "50")
    assert result.exit_code == 2
    assert (
        "'50'" in result.output and f"{HARD_MAX_POSITION_USD} USD is the hard cap" in result.output
    )
    shown = cli("control", "show")
    assert "max_position_usd=5\n" in shown.output


def test_console_script_exits_2_on_invalid_value(db_url):
    env = {**os.environ, "UPDOWN_DATABASE_URL": db_url}
    proc = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "updown"),
            "control",
            "set",
            "max_position_usd",
            "50",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "hard cap" in proc.stderr
    assert table(db_url)["max_position_usd"] == "5"


def test_cli_set_is_audited_with_who_old_and_new(cli, db_url):
    result = cli("control", "set", "max_position_usd", "2.5", "--by", "alice")
    assert result.exit_code == 0, result.output
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT key, old_value, new_value, changed_by FROM control_changes "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == ("max_position_usd", "5", "2.5", "alice")


@pytest.mark.parametrize(
    ("command", "value"),
    [("pause", "pause"), ("flatten", "flatten"), ("emergency", "emergency"), ("resume", "off")],
)
def test_kill_switch_commands(cli, db_url, command, value):
    if command == "resume":
        assert cli("control", "pause").exit_code == 0
    result = cli("control", command)
    assert result.exit_code == 0, result.output
    assert table(db_url)["kill_switch"] == value


def test_show_prints_one_line_per_control(cli):
    result = cli("control", "show")
    assert result.exit_code == 0
    assert result.output.splitlines() == [f"{k}={v}" for k, v in DEFAULTS.items()]


def test_change_is_announced_to_a_listener(db_url):
    received: list[str] = []
    ready = threading.Event()

    def listen():
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("LISTEN updown_controls")
            ready.set()
            for note in conn.notifies(timeout=10, stop_after=1):
                received.append(note.payload)

    thread = threading.Thread(target=listen)
    thread.start()
    assert ready.wait(10)
    with psycopg.connect(db_url) as conn:
        controls.write(conn, "kill_switch", "pause", "test")
    thread.join(15)
    assert received == ['{"key" : "kill_switch", "value" : "pause"}']


def test_rolled_back_change_is_neither_applied_nor_announced(db_url):
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN updown_controls")
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE runtime_controls SET value = 'pause' WHERE key = 'kill_switch'")
            conn.rollback()
        assert list(listener.notifies(timeout=0.5)) == []
    assert table(db_url)["kill_switch"] == "off"


def test_controls_snapshot_parses_lists_and_limits():
    snap = Controls.from_mapping(
        DEFAULTS | {"allowed_instruments": "BTC,ETH", "max_position_usd": "1.5"}
    )
    assert snap.instrument_allowed("BTC") and not snap.instrument_allowed("XRP")
    assert snap.max_position_usd == Decimal("1.5")
    assert snap.strategy_allowed("always-trade-canary", aliases=("canary",))
    assert not snap.strategy_allowed("vwap")
    with pytest.raises(InvalidControl, match="missing controls"):
        Controls.from_mapping({"kill_switch": "off"})
