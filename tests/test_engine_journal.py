"""The journal: parsing, validation errors naming line and field, merging, round trip."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from live.journal.codec import JournalError, parse_line, to_json
from live.journal.reader import read_journal
from live.kernel.domain import Asset, Outcome, SettlementRule
from live.kernel.events import BookDelta, BookSnapshot, OracleTick, WindowListed

WINDOW = {
    "ts": 1000,
    "kind": "window",
    "slug": "btc-updown-5m-1",
    "asset": "BTC",
    "length_s": 300,
    "open_ts": 1000,
    "close_ts": 301000,
    "condition_id": "0xc",
    "token_up": "U",
    "token_down": "D",
    "tick_size": "0.01",
    "min_size": "5",
    "fee_rate": "0.07",
    "settlement_rule": "spot_at_close",
    "strike": None,
}


def _line(obj: dict) -> str:
    return json.dumps(obj)


def test_window_line_builds_a_window() -> None:
    event = parse_line(_line(WINDOW), 1)
    assert isinstance(event, WindowListed)
    assert event.window.asset is Asset.BTC
    assert event.window.settlement_rule is SettlementRule.SPOT_AT_CLOSE
    assert event.window.fee_rate == Decimal("0.07")
    assert event.window.strike is None


def test_every_kind_round_trips_through_to_json() -> None:
    lines = [
        WINDOW,
        {"ts": 1, "kind": "book", "token_id": "U", "bids": [["0.5", "10"]], "asks": []},
        {
            "ts": 1,
            "kind": "book_delta",
            "token_id": "U",
            "side": "ask",
            "price": "0.51",
            "size": "0",
        },
        {"ts": 1, "kind": "trade", "token_id": "U", "price": "0.51", "size": "3", "side": "BUY"},
        {"ts": 1, "kind": "oracle", "asset": "ETH", "price": "2001.25", "source": "chainlink"},
        {"ts": 1, "kind": "resolved", "slug": "s", "winner": "DOWN"},
        {"ts": 1, "kind": "control", "key": "kill_switch", "value": "pause"},
        {"ts": 1, "kind": "signal", "slug": "s", "side": "UP", "usd": "2", "stop_loss": "0.05"},
        {"ts": 1, "kind": "order_ack", "client_order_id": "c", "venue_order_id": "v"},
        {"ts": 1, "kind": "order_reject", "client_order_id": "c", "reason": "no"},
        {
            "ts": 1,
            "kind": "order_fill",
            "client_order_id": "c",
            "fill_id": "f",
            "price": "0.5",
            "shares": "2",
            "fee": "0.01",
        },
        {"ts": 1, "kind": "order_cancel", "client_order_id": "c", "reason": "FAK"},
        {"ts": 1, "kind": "order_unknown", "client_order_id": "c", "reason": "timeout"},
        {"ts": 1, "kind": "balance", "usd": "68.00"},
        {"ts": 1, "kind": "venue_positions", "positions": [["U", "2"]]},
        {"ts": 1, "kind": "timer"},
    ]
    for i, obj in enumerate(lines, 1):
        event = parse_line(_line(obj), i)
        assert parse_line(to_json(event), i) == event


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"kind": "timer"}, "ts"),
        ({"ts": "12", "kind": "timer"}, "ts"),
        ({"ts": 1, "kind": "nope"}, "kind"),
        (
            {
                "ts": 1,
                "kind": "book_delta",
                "token_id": "U",
                "side": "mid",
                "price": "0.5",
                "size": "1",
            },
            "side",
        ),
        (
            {
                "ts": 1,
                "kind": "book_delta",
                "token_id": "U",
                "side": "bid",
                "price": "1.5",
                "size": "1",
            },
            "price",
        ),
        ({"ts": 1, "kind": "book", "token_id": "U", "bids": [["0.5"]], "asks": []}, "bids"),
        ({"ts": 1, "kind": "oracle", "asset": "DOGE", "price": "1"}, "asset"),
        ({"ts": 1, "kind": "oracle", "asset": "BTC", "price": 1.5}, "price"),
        ({"ts": 1, "kind": "oracle", "asset": "BTC", "price": "NaN"}, "price"),
        ({"ts": 1, "kind": "signal", "slug": "s", "side": "UP", "usd": "-1"}, "usd"),
        ({**WINDOW, "close_ts": 5}, "close_ts"),
        ({**WINDOW, "settlement_rule": "vwap"}, "settlement_rule"),
        ({"ts": 10**20, "kind": "timer"}, "ts"),  # past year 9999: no datetime, no timestamptz
        ({**WINDOW, "close_ts": 253_402_300_800_000}, "close_ts"),
    ],
)
def test_bad_line_names_line_number_and_field(obj: dict, field: str) -> None:
    with pytest.raises(JournalError) as info:
        parse_line(_line(obj), 42)
    assert info.value.lineno == 42
    assert info.value.field == field
    assert "line 42" in str(info.value) and repr(field) in str(info.value)


def test_invalid_json_is_reported_with_its_line() -> None:
    with pytest.raises(JournalError, match="line 3"):
        parse_line("{not json", 3)


def _write(path: Path, objs: list[dict], gz: bool = False) -> Path:
    text = "".join(json.dumps(o) + "\n" for o in objs)
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def test_files_merge_by_ts_stably_and_gzip_is_read(tmp_path: Path) -> None:
    a = _write(
        tmp_path / "a.jsonl",
        [
            {"ts": 1, "kind": "oracle", "asset": "BTC", "price": "1"},
            {"ts": 3, "kind": "oracle", "asset": "BTC", "price": "3"},
        ],
    )
    b = _write(
        tmp_path / "b.jsonl.gz",
        [
            {"ts": 1, "kind": "oracle", "asset": "ETH", "price": "1"},
            {"ts": 2, "kind": "oracle", "asset": "ETH", "price": "2"},
        ],
        gz=True,
    )
    events = list(read_journal([a, b]))
    assert [(e.ts, e.asset) for e in events] == [(1, "BTC"), (1, "ETH"), (2, "ETH"), (3, "BTC")]
    assert all(isinstance(e, OracleTick) for e in events)


def test_invalid_line_stops_the_read_unless_skipped(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "j.jsonl",
        [
            {"ts": 1, "kind": "book", "token_id": "U", "bids": [], "asks": [["0.5", "1"]]},
            {
                "ts": 2,
                "kind": "book_delta",
                "token_id": "U",
                "side": "ask",
                "price": "2",
                "size": "1",
            },
            {
                "ts": 3,
                "kind": "book_delta",
                "token_id": "U",
                "side": "ask",
                "price": "0.4",
                "size": "1",
            },
        ],
    )
    seen = []
    with pytest.raises(JournalError, match="line 2 field 'price'"):
        for event in read_journal([path]):
            seen.append(event)
    assert len(seen) == 1  # nothing after the bad line was acted on
    reader = read_journal([path], skip_invalid=True)
    events = list(reader)
    assert [type(e) for e in events] == [BookSnapshot, BookDelta]
    assert reader.skipped == 1


def test_out_of_order_line_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "j.jsonl", [{"ts": 5, "kind": "timer"}, {"ts": 4, "kind": "timer"}])
    with pytest.raises(JournalError, match="line 2 field 'ts'"):
        list(read_journal([path]))


def test_signal_side_parses_as_outcome() -> None:
    event = parse_line('{"ts":1,"kind":"signal","slug":"s","side":"down","usd":"1"}', 1)
    assert event.side is Outcome.DOWN
