"""Every recorded Polymarket message converts cleanly into valid journal events."""

from __future__ import annotations

import json

import pytest

from live.convert import ConvertError, convert_to_journal, polymarket_ws
from live.journal.reader import read_journal

MESSAGES = [
    "ws/" + n
    for n in (
        "book.json",
        "last_trade_price.json",
        "order_placement.json",
        "price_change.json",
        "price_change_v2.json",
        "rtds_crypto_prices_update.json",
        "tick_size_change.json",
        "user_trade1.json",
        "user_trade2.json",
    )
] + [
    "http/" + n
    for n in ("book.json", "gamma_market_btc_updown_5m.json", "market.json", "trades.json")
]


def test_the_recordings_are_the_ones_listed(shared_data):
    on_disk = sorted(
        f"{p.parent.name}/{p.name}" for p in (shared_data / "polymarket_messages").glob("*/*.json")
    )
    assert on_disk == sorted(MESSAGES)


@pytest.mark.parametrize("name", MESSAGES)
def test_every_recorded_message_converts_cleanly(shared_data, tmp_path, name):
    # The Gamma market of March 2026 has fees enabled but no feeSchedule: the rate must be given.
    fee = "0.07" if "gamma" in name else None
    out = tmp_path / "out.jsonl"
    summary = convert_to_journal(
        "polymarket-ws", shared_data / "polymarket_messages" / name, out, fee_rate=fee
    )
    assert summary.events + sum(summary.skipped.values()) >= 1
    assert len(list(read_journal([out]))) == summary.events


def test_gamma_market_without_fee_schedule_needs_a_fee_rate(shared_data):
    src = shared_data / "polymarket_messages/http/gamma_market_btc_updown_5m.json"
    with pytest.raises(ConvertError, match="feeSchedule"):
        polymarket_ws.convert(src)


def test_book_levels_are_sorted_best_first(shared_data):
    for name in ("ws/book.json", "http/book.json"):
        (book,) = polymarket_ws.convert(shared_data / "polymarket_messages" / name).events
        bids = [float(p) for p, _ in book["bids"]]
        asks = [float(p) for p, _ in book["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert bids[0] < asks[0]


def test_sdk_era_book_with_extra_fields_is_accepted(tmp_path):
    src = tmp_path / "book.json"
    src.write_text(
        json.dumps(
            {
                "market": "0xabc",
                "asset_id": "123",
                "timestamp": "1780000000000",
                "hash": "h",
                "bids": [{"price": "0.4", "size": "10"}],
                "asks": [{"price": "0.6", "size": "5"}],
                "min_order_size": "5",
                "tick_size": "0.01",
                "neg_risk": False,
                "last_trade_price": "0.5",
            }
        )
    )
    (book,) = polymarket_ws.convert(src).events
    assert book == {
        "ts": 1780000000000,
        "kind": "book",
        "token_id": "123",
        "bids": [["0.4", "10"]],
        "asks": [["0.6", "5"]],
    }


def test_both_price_change_formats_become_book_deltas(shared_data):
    base = shared_data / "polymarket_messages/ws"
    (old,) = polymarket_ws.convert(base / "price_change.json").events
    assert (old["side"], old["price"], old["size"]) == ("ask", "0.514", "21574.08")
    new = polymarket_ws.convert(base / "price_change_v2.json").events
    assert [(e["side"], e["price"]) for e in new] == [
        ("bid", "0.6"),
        ("bid", "0.5"),
        ("bid", "0.7"),
    ]


def test_messages_without_a_journal_kind_are_counted(shared_data):
    result = polymarket_ws.convert(shared_data / "polymarket_messages/ws")
    assert result.skipped == {"order": 1, "tick_size_change": 1}
    kinds = sorted(e["kind"] for e in result.events)
    assert kinds == [
        "book",
        "book_delta",
        "book_delta",
        "book_delta",
        "book_delta",
        "oracle",
        "trade",
        "trade",
        "trade",
    ]


def test_json_lines_recording_reports_the_bad_line(tmp_path):
    src = tmp_path / "rec.jsonl"
    good = {
        "event_type": "last_trade_price",
        "asset_id": "1",
        "price": "0.5",
        "size": "1",
        "side": "BUY",
        "timestamp": "1000",
    }
    src.write_text(json.dumps(good) + "\n" + json.dumps({**good, "price": "cheap"}) + "\n")
    with pytest.raises(ConvertError, match=r"rec.jsonl:2: field 'price'"):
        polymarket_ws.convert(src)
