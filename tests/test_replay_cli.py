"""`updown replay`: the printed lines, controls from the journal, invalid lines, and --db."""

from __future__ import annotations

import json

import psycopg
from typer.testing import CliRunner

from live.store import db
from updown.cli import app

T = 1780876500000  # window open
CLOSE = T + 300_000
UP, DOWN = "111", "222"
WINDOW = {
    "ts": T - 60_000,
    "kind": "window",
    "slug": "btc-updown-5m-1780876500",
    "asset": "BTC",
    "length_s": 300,
    "open_ts": T,
    "close_ts": CLOSE,
    "condition_id": "0xc",
    "token_up": UP,
    "token_down": DOWN,
    "tick_size": "0.01",
    "min_size": "5",
    "fee_rate": "0.07",
    "settlement_rule": "spot_at_close",
    "strike": "100",
}


def _scenario(*extra: dict) -> list[dict]:
    lines = [
        WINDOW,
        {
            "ts": T + 1000,
            "kind": "book",
            "token_id": UP,
            "bids": [["0.55", "50"]],
            "asks": [["0.57", "50"]],
        },
        {
            "ts": T + 1000,
            "kind": "book",
            "token_id": DOWN,
            "bids": [["0.43", "50"]],
            "asks": [["0.45", "50"]],
        },
        {"ts": CLOSE - 60_000, "kind": "oracle", "asset": "BTC", "price": "101"},
        {"ts": CLOSE, "kind": "oracle", "asset": "BTC", "price": "101.5"},
        {"ts": CLOSE + 1000, "kind": "oracle", "asset": "BTC", "price": "101.6"},
        {"ts": CLOSE + 20_000, "kind": "resolved", "slug": WINDOW["slug"], "winner": "UP"},
        *extra,
    ]
    return sorted(lines, key=lambda line: line["ts"])


def _write(tmp_path, lines: list[dict | str], name: str = "j.jsonl"):
    path = tmp_path / name
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def _run(*args: str):
    return CliRunner().invoke(app, ["replay", *args])


def _types(output: str) -> list[str]:
    return [json.loads(line)["type"] for line in output.splitlines() if line.startswith("{")]


def test_canary_trade_prints_every_step_and_the_summary(tmp_path):
    result = _run(str(_write(tmp_path, _scenario())), "--balance", "50")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    types = _types(result.output)
    assert types[0] == "decision" and {"order", "fill", "position", "settlement"} <= set(types)
    decision = lines[0]
    assert decision["verdict"] == "APPROVED" and decision["inputs"]["side"] == "UP"
    assert "$50.00 balance" in decision["audit"]
    moves = [(x["from_state"], x["to_state"]) for x in lines if x["type"] == "position"]
    assert moves[0] == (None, "ENTRY") and moves[-1][1] == "CLOSED"
    (settlement,) = [x for x in lines if x["type"] == "settlement"]
    assert (settlement["ours"], settlement["venue"], settlement["agreement"]) == (
        "UP",
        "UP",
        "agree",
    )
    assert result.output.splitlines()[-1] == "settlements: agree=1 disagree=0 uncertain=0"


def test_control_line_pauses_entries_with_its_deny_code(tmp_path):
    pause = {"ts": T + 2000, "kind": "control", "key": "kill_switch", "value": "pause"}
    result = _run(str(_write(tmp_path, _scenario(pause))))
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output.splitlines()[0])
    assert (decision["verdict"], decision["code"]) == ("DENIED", "TRADING_STATE")
    assert "order" not in _types(result.output)


def test_strategies_option_allows_what_it_names(tmp_path):
    result = _run(str(_write(tmp_path, _scenario())), "--strategies", "canary-exit-c")
    decisions = [json.loads(x) for x in result.output.splitlines() if '"decision"' in x]
    assert [(d["strategy"], d["verdict"]) for d in decisions] == [("canary-exit-c", "APPROVED")]
    assert _run(str(_write(tmp_path, _scenario())), "--strategies", "nope").exit_code == 2


def test_invalid_line_stops_before_acting_on_it(tmp_path):
    bad = {"ts": T + 2000, "kind": "book", "token_id": UP, "bids": [["1.5", "1"]], "asks": []}
    path = _write(tmp_path, _scenario(bad))
    result = _run(str(path))
    assert result.exit_code == 2
    assert f"{path}:line 4 field 'bids'" in result.output
    assert "price must be in (0, 1)" in result.output
    assert _types(result.output) == []  # the canary's T-60 s entry comes after the bad line
    assert "settlements:" not in result.output


def test_skip_invalid_counts_and_continues(tmp_path):
    path = _write(tmp_path, [*_scenario()[:3], "{not json", *_scenario()[3:]])
    result = _run(str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "skipped 1 invalid lines" in result.output
    assert result.output.splitlines()[-1] == "settlements: agree=1 disagree=0 uncertain=0"


def test_files_are_merged_by_ts(tmp_path):
    scenario = _scenario()
    market = _write(tmp_path, [x for x in scenario if x["kind"] != "oracle"], "market.jsonl")
    oracle = _write(tmp_path, [x for x in scenario if x["kind"] == "oracle"], "oracle.jsonl")
    one = _run(str(_write(tmp_path, scenario)))
    two = _run(str(oracle), str(market))
    assert two.exit_code == 0 and two.output == one.output


def test_out_file_and_db_records(tmp_path, db_url, monkeypatch):
    monkeypatch.setenv(db.ENV_URL, db_url)
    out = tmp_path / "records.jsonl"
    result = _run(str(_write(tmp_path, _scenario())), "--out", str(out), "--db", "--run-id", "r1")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "settlements: agree=1 disagree=0 uncertain=0"
    assert "settlement" in _types(out.read_text())
    with psycopg.connect(db_url) as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table} WHERE run_id = 'r1'").fetchone()[0]
            for table in ("decisions", "orders", "fills", "positions", "settlements")
        }
        summary = conn.execute("SELECT summary FROM backtest_runs WHERE run_id = 'r1'").fetchone()
    assert all(n >= 1 for n in counts.values()), counts
    assert summary[0]["settlements"] == {"agree": 1}
