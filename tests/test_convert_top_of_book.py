"""1 s top-of-book CSV → window and book events: empty sides, timezone, stable ids, sorting."""

from __future__ import annotations

import pytest

from live.convert import ConvertError
from live.convert import top_of_book as tob
from live.journal.codec import parse_event

TOB_DAY = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"
HEADER = (
    "Timestamp,TargetTime,Expiration,UpBid,UpAsk,UpMid,UpSpread,UpBidLiquidity,UpAskLiquidity,"
    "DownBid,DownAsk,DownMid,DownSpread,DownBidLiquidity,DownAskLiquidity\n"
)
OPTIONS = tob.TopOfBookOptions(fee_rate="0")
WINDOW = "2025-12-26 10:45:00,2025-12-26 11:00:00"
QUOTES = "0.4,0.6,0,0,1,1,0.4,0.6,0,0,1,1"


def _csv(tmp_path, *rows: str):
    src = tmp_path / "tob.csv"
    src.write_text(HEADER + "".join(row + "\n" for row in rows))
    return src


def test_real_day_converts_sorted_and_valid(shared_data):
    events = tob.convert(shared_data / TOB_DAY, options=OPTIONS)
    for event in events:
        parse_event(event)
    assert sum(e["kind"] == "window" for e in events) == 32
    assert sum(e["kind"] == "book" for e in events) == 2 * 28494
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    first = events[0]
    assert first["slug"] == "btc-updown-15m-1766745000"  # 2025-12-26 10:30 UTC
    assert (first["length_s"], first["settlement_rule"]) == (900, "spot_at_close")


def test_zero_means_an_empty_side_not_a_price_of_zero(tmp_path):
    src = _csv(
        tmp_path,
        "2025-12-26 10:59:30,2025-12-26 10:45:00,2025-12-26 11:00:00,"
        "0.99,0,0.5,0,120.5,0,0,0.02,0.01,0,0,75",
    )
    events = tob.convert(src, options=OPTIONS)
    window, up, down = events
    assert up["token_id"] == window["token_up"] and down["token_id"] == window["token_down"]
    assert (up["bids"], up["asks"]) == ([["0.99", "120.5"]], [])
    assert (down["bids"], down["asks"]) == ([], [["0.02", "75"]])


def test_rows_are_sorted_stably_by_time(tmp_path):
    row = "2025-12-26 10:46:{s}," + WINDOW + ",0.{p},0.6,0,0,1,1,0.4,0.6,0,0,1,1"
    src = _csv(
        tmp_path, row.format(s="02", p="3"), row.format(s="01", p="1"), row.format(s="02", p="2")
    )
    books = [e for e in tob.convert(src, options=OPTIONS) if e["kind"] == "book"][::2]
    assert [(e["ts"] % 10_000, e["bids"][0][0]) for e in books] == [
        (1000, "0.1"),
        (2000, "0.3"),
        (2000, "0.2"),
    ]


def test_timezone_is_applied_and_ids_are_stable(tmp_path):
    row = "2025-12-26 05:46:00,2025-12-26 05:45:00,2025-12-26 06:00:00," + QUOTES
    ny = tob.TopOfBookOptions(tz="America/New_York", fee_rate="0")
    window = tob.convert(_csv(tmp_path, row), options=ny)[0]
    assert window["slug"] == "btc-updown-15m-1766745900"  # 10:45 UTC
    assert window["ts"] == window["open_ts"] == 1766745900000
    assert window["token_up"] == tob.token_id(window["slug"], "UP")
    assert window["token_up"] != window["token_down"] and window["token_up"].isdigit()


def test_bad_cell_names_line_and_column(tmp_path):
    ok = "2025-12-26 10:46:00," + WINDOW + "," + QUOTES
    src = _csv(tmp_path, ok, ok.replace("0.6,0,0,1,1,0.4", "0.6,0,0,1,1,x", 1))
    with pytest.raises(ConvertError, match=r"tob.csv:3: field 'DownBid'"):
        tob.convert(src, options=OPTIONS)


def test_fee_rate_must_be_given_and_tz_must_exist(tmp_path):
    src = _csv(tmp_path)
    with pytest.raises(ConvertError, match="--fee-rate"):
        tob.convert(src)
    with pytest.raises(ConvertError, match="unknown timezone"):
        tob.convert(src, options=tob.TopOfBookOptions(tz="Mars/Base", fee_rate="0"))
