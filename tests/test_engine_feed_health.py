"""The runner's feed watchdog reaches the risk envelope: no entries on an asset whose data is
stale, entries again once it is fresh (FM1)."""

from __future__ import annotations

from engine_kit import OPEN, listed, make_engine, of_type, run, signal, two_sided, window

from live.domain import DenyCode
from live.records import DecisionRecord

W = window()


def test_stale_feed_blocks_entries_on_that_asset_until_fresh() -> None:
    engine = make_engine()
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.50, 0.52)])
    engine.set_feed_stale("BTC", True)
    run(engine, [signal(OPEN + 2000, W, usd="1", signal_id="while-stale")])
    engine.set_feed_stale("BTC", False)
    run(engine, [signal(OPEN + 3000, W, usd="1", signal_id="when-fresh")])
    first, second = of_type(engine.records, DecisionRecord)
    assert (first.code, first.detail["reason"]) == (DenyCode.INSTRUMENT_NOT_ALLOWED, "feed_stale")
    assert second.verdict == "APPROVED"


def test_stale_feed_on_another_asset_does_not_block() -> None:
    engine = make_engine()
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.50, 0.52)])
    engine.set_feed_stale("ETH", True)
    run(engine, [signal(OPEN + 2000, W, usd="1", signal_id="btc")])
    (decision,) = of_type(engine.records, DecisionRecord)
    assert decision.verdict == "APPROVED"


def test_entry_offset_is_clamped_to_half_of_a_short_window() -> None:
    from live.strategy import resolve

    short = window(length_ms=30_000)
    engine = make_engine(strategies=resolve("canary"))
    run(engine, [listed(short), *two_sided(short.open_ts + 1000, short, 0.60, 0.62)])
    run(engine, [*two_sided(short.close_ts - 15_000, short, 0.60, 0.62)])
    (decision,) = of_type(engine.records, DecisionRecord)
    assert decision.ts == short.close_ts - 15_000
    assert decision.verdict == "APPROVED"


def test_entry_offset_of_a_five_minute_window_is_the_strategys_own() -> None:
    from live.strategy import resolve

    engine = make_engine(strategies=resolve("canary"))
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.60, 0.62)])
    run(engine, [*two_sided(W.close_ts - 61_000, W, 0.60, 0.62)])
    assert of_type(engine.records, DecisionRecord) == []
    run(engine, [*two_sided(W.close_ts - 60_000, W, 0.60, 0.62)])
    (decision,) = of_type(engine.records, DecisionRecord)
    assert decision.ts == W.close_ts - 60_000


def test_open_position_is_marked_at_its_bid_at_most_once_a_second() -> None:
    from decimal import Decimal

    from live.records import PositionEventRecord

    engine = make_engine()
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.50, 0.52)])
    run(engine, [signal(OPEN + 2000, W, usd="1", signal_id="s")])
    run(engine, [*two_sided(OPEN + 3000, W, 0.55, 0.57)])  # marked
    run(engine, [*two_sided(OPEN + 3500, W, 0.56, 0.58)])  # within the second: not marked
    run(engine, [*two_sided(OPEN + 4100, W, 0.40, 0.42)])  # marked again
    (position,) = list(engine.positions)
    marks = [r for r in engine.records if isinstance(r, PositionEventRecord) and r.reason == "mark"]
    assert [m.mark_price for m in marks] == [Decimal("0.55"), Decimal("0.4")]
    for m in marks:
        assert m.from_state == m.to_state == "MONITORING"
        assert m.pnl_gross == (m.mark_price - position.entry_price) * position.shares
    assert position.mark_price == Decimal("0.4")
    assert position.pnl_gross is None  # realised P&L only once closed
