"""`updown sweep screen | grid` and `updown backtest` refuse a malformed --from, --to, --offsets,
--min-prices or --data in one line naming the flag, exit 2, and write no trial; good flags run
the screen from the CLI and log its cells."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from updown.cli import app

pytestmark = pytest.mark.xdist_group("research")
TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"


def trial_count(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM trials").fetchone()[0]


@pytest.mark.parametrize(
    "args, named",
    [
        (["sweep", "screen", "--from", "2025-13-01"], "--from '2025-13-01'"),
        (["sweep", "screen", "--from", "yesterday"], "--from 'yesterday'"),
        (["sweep", "screen", "--from", "2025-12-26", "--to", "26/12"], "--to '26/12'"),
        (["sweep", "screen", "--from", "2025-12-27", "--to", "2025-12-26"], "empty range"),
        (["sweep", "screen", "--from", "2025-12-26", "--offsets", "30,sixty"], "--offsets"),
        (["sweep", "screen", "--from", "2025-12-26", "--offsets", "30,-60"], "--offsets"),
        (["sweep", "screen", "--from", "2025-12-26", "--offsets", ","], "--offsets"),
        (["sweep", "screen", "--from", "2025-12-26", "--offsets", "1e3"], "--offsets"),
        (["sweep", "screen", "--from", "2025-12-26", "--min-prices", "0.5,1.2"], "--min-prices"),
        (["sweep", "screen", "--from", "2025-12-26", "--min-prices", "nan"], "--min-prices"),
        (["sweep", "screen", "--from", "2025-12-26", "--data", "/no/such.csv.gz"], "--data"),
        (["sweep", "grid", "canary", "--from", "2025-1-2", "--param", "x=1"], "--from"),
        (["sweep", "grid", "canary", "--from", "2025-12-26", "--param", "x"], "--param 'x'"),
        (["backtest", "canary", "--from", "2025-12-26", "--to", "soon"], "--to 'soon'"),
        (
            ["sweep", "grid", "canary", "--from", "2025-12-26", "--param", "min_price=0.5,0.7"],
            "strategy always-trade-canary: parameter min_price: unknown",
        ),
        (
            ["sweep", "grid", "canary", "--from", "2025-12-26", "--param", "usd=1,9"],
            "strategy always-trade-canary: parameter usd: '9'",
        ),
        (
            [
                "sweep",
                "grid",
                "canary",
                "--from",
                "2025-12-26",
                "--param",
                "usd=1",
                "--objective",
                "luck",
            ],
            "--objective 'luck'",
        ),
        (
            [
                "sweep",
                "grid",
                "canary",
                "--from",
                "2025-12-26",
                "--param",
                "usd=1",
                "--scheduler-file",
                "/no/such.json",
            ],
            "--scheduler-file /no/such.json",
        ),
    ],
)
def test_malformed_flags_exit_2_naming_the_flag_and_write_nothing(args, named, db_url, tmp_path):
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert trial_count(db_url) == 0


def test_a_malformed_data_file_is_named(db_url, tmp_path):
    bad = tmp_path / "day.jsonl"
    bad.write_text('{"kind": "oracle", "ts": "soon"}\n')
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    args = ["sweep", "screen", "--from", "2025-12-26", "--data", str(bad)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2 and f"--data {bad}" in result.output, result.output
    assert trial_count(db_url) == 0


def test_the_screen_runs_from_the_cli_and_logs_its_cells(shared_data, db_url, tmp_path):
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    args = ["sweep", "screen", "canary", "--from", "2025-12-26", "--offsets", "60,120",
            "--min-prices", "0.5", "--data", str(shared_data / TOB)]  # fmt: skip
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "2 trials logged under screen-" in result.output
    assert trial_count(db_url) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "screen", "--from", "2026-06-08"],
        ["sweep", "grid", "canary", "--from", "2026-06-08", "--param", "before_close_s=30"],
        ["backtest", "canary", "--from", "2026-06-08"],
    ],
)
def test_a_range_without_windows_is_one_line_not_a_traceback(args, db_url, tmp_path):
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: no market windows in the database from 2026-06-08")
    assert trial_count(db_url) == 0


def test_an_empty_data_file_is_one_line(db_url, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    for args in (["backtest", "canary", "--data", str(empty), "--no-db"],
                 ["sweep", "screen", "--from", "2026-06-08", "--data", str(empty)]):  # fmt: skip
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: no market windows in --data {empty}")
