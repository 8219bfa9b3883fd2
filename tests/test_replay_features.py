"""The replay's conservative fill model and per-source latency offsets, each against a
hand-computed expectation, and the measured Chainlink offsets of the real capture."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest
from test_executors_paper import W, order

from live.kernel.book import Book
from live.kernel.executors import Match
from research.backtest import shift_sources
from research.fills import ConservativeExecutor
from research.latency import chainlink_offsets

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def _book(bid: float | None, ask: float | None) -> Book:
    b = Book(W.token_up)
    b.apply_snapshot([(bid, 100.0)] if bid else [], [(ask, 100.0)] if ask else [], 0)
    return b


def test_conservative_fill_buys_one_percent_above_the_mid():
    venue = ConservativeExecutor(Decimal(100))
    # bid 0.40, ask 0.44: mid 0.42; 0.42 * 1.01 = 0.4242; 1 USD buys 1 / 0.4242 = 2.357378...
    # shares, truncated to 1e-6: 2.357378
    assert venue.matches(order("1", worst="0.5"), _book(0.40, 0.44)) == [
        Match(Decimal("0.4242"), Decimal("2.357378"))
    ]
    # the worst price binds: 0.4242 > 0.42, no fill (all or nothing)
    assert venue.matches(order("1", worst="0.42"), _book(0.40, 0.44)) == []
    # mid 0.335: 0.335 * 1.01 = 0.33835, rounded against us (up) to 0.3384
    assert venue.matches(order("1", worst="0.5"), _book(0.33, 0.34))[0].price == Decimal("0.3384")
    # a one-sided book has no mid: no fill
    assert venue.matches(order("1", worst="0.5"), _book(None, 0.44)) == []


def test_latency_offsets_delay_only_their_source_and_re_merge_by_time():
    from live.kernel.events import OracleTick

    def tick(ts: int, source: str):
        return (ts, source, OracleTick(ts, "BTC", Decimal(100000), source))

    items = [tick(1000, "chainlink"), tick(1100, "clob"), tick(1500, "chainlink")]
    shifted = shift_sources(items, {"chainlink": 200})
    # chainlink 1000 -> 1200 (after clob 1100), 1500 -> 1700; clob unchanged
    assert [(ts, src) for ts, src, _ in shifted] == [
        (1100, "clob"),
        (1200, "chainlink"),
        (1700, "chainlink"),
    ]
    assert [event.ts for _, _, event in shifted] == [1100, 1200, 1700]
    assert shift_sources(items, {"chainlink": 0}) is items  # no offset: the same list


def test_chainlink_offsets_by_hand_and_on_the_real_capture(tmp_path):
    path = tmp_path / "cl.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("feed_ts_ms,value,full_accuracy_value,server_ts_ms,recv_ms\n")
        for i, (srv, rcv) in enumerate([(1000, 1200), (1100, 1300), (1200, 1500)]):
            f.write(f"{i * 1000},1,1,{i * 1000 + srv},{i * 1000 + rcv}\n")
    relay, replay, last_leg = chainlink_offsets(path)
    assert (relay.median, replay.median, last_leg.median) == (1100, 1300, 200)
    real = REAL / "chainlink_btcusd_2026-06-08.csv.gz"
    if not real.is_file():
        pytest.skip(f"{real} not present")
    relay, replay, last_leg = chainlink_offsets(real)
    assert replay.n > 80_000
    assert relay.median < replay.median  # we receive after the relay stamps
    assert replay.median == pytest.approx(relay.median + last_leg.median, abs=50)
