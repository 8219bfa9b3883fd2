"""The runner's feed watchdog reaches the risk envelope: no entries on an asset whose data is
stale, entries again once it is fresh (FM1)."""

from __future__ import annotations

from engine_kit import OPEN, listed, make_engine, of_type, run, signal, two_sided, window

from live.kernel.domain import DenyCode
from live.kernel.records import DecisionRecord

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
    from strategies import resolve

    short = window(length_ms=30_000)
    engine = make_engine(strategies=resolve("canary"))
    run(engine, [listed(short), *two_sided(short.open_ts + 1000, short, 0.60, 0.62)])
    run(engine, [*two_sided(short.close_ts - 15_000, short, 0.60, 0.62)])
    (decision,) = of_type(engine.records, DecisionRecord)
    assert decision.ts == short.close_ts - 15_000
    assert decision.verdict == "APPROVED"


def test_entry_offset_of_a_five_minute_window_is_the_strategys_own() -> None:
    from strategies import resolve

    engine = make_engine(strategies=resolve("canary"))
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.60, 0.62)])
    run(engine, [*two_sided(W.close_ts - 61_000, W, 0.60, 0.62)])
    assert of_type(engine.records, DecisionRecord) == []
    run(engine, [*two_sided(W.close_ts - 60_000, W, 0.60, 0.62)])
    (decision,) = of_type(engine.records, DecisionRecord)
    assert decision.ts == W.close_ts - 60_000


def test_open_position_is_marked_at_its_bid_at_most_once_a_second() -> None:
    from decimal import Decimal

    from live.kernel.records import PositionEventRecord

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


def test_exit_under_the_venue_minimum_is_held_and_recorded_not_sent() -> None:
    """A $1 position (no stop) asked to flatten: 2 shares × (bid − 2 ticks) is under $1, which
    the venue refuses. Nothing is sent, the reason is recorded once, and the exit goes out as
    soon as the bid makes it marketable."""
    from live.kernel.domain import PositionState
    from live.kernel.events import ControlChange
    from live.kernel.records import PositionEventRecord

    engine = make_engine()
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.48, 0.50)])
    run(engine, [signal(OPEN + 2000, W, usd="1", signal_id="s")])
    commands = run(engine, [ControlChange(OPEN + 3000, "kill_switch", "flatten")])
    commands += run(engine, [*two_sided(OPEN + 4000, W, 0.47, 0.49)])
    assert [c for c in commands if hasattr(c, "order")] == []
    (pos,) = list(engine.positions)
    assert pos.state is PositionState.FLATTEN_REQUESTED
    notes = [
        r
        for r in engine.records
        if isinstance(r, PositionEventRecord) and r.reason == "exit_below_venue_minimum"
    ]
    assert len(notes) == 1
    run(engine, [*two_sided(OPEN + 5000, W, 0.70, 0.72)])  # 2 shares × 0.68 ≥ $1
    assert engine.positions.get(pos.position_id).state is PositionState.CLOSED


def test_refused_exit_is_retried_after_a_pause_not_on_every_book_change() -> None:
    from decimal import Decimal

    from live.kernel.domain import Mode
    from live.kernel.events import ControlChange, OrderAck, OrderFill, OrderReject

    engine = make_engine(mode=Mode.LIVE, balance=None, promoted=lambda name: True)
    from live.kernel.events import BalanceReport

    run(engine, [BalanceReport(OPEN, Decimal("100")), listed(W)])
    run(engine, [*two_sided(OPEN + 1000, W, 0.48, 0.50)])
    (entry,) = [
        c
        for c in engine.process(signal(OPEN + 2000, W, usd="4", signal_id="s"))
        if hasattr(c, "order")
    ]
    cid = entry.order.client_order_id
    run(
        engine,
        [
            OrderAck(OPEN + 2100, cid, "v1"),
            OrderFill(OPEN + 2200, cid, "t1", Decimal("0.5"), Decimal("8"), Decimal(0)),
        ],
    )
    (exit1,) = [
        c
        for c in engine.process(ControlChange(OPEN + 3000, "kill_switch", "flatten"))
        if hasattr(c, "order")
    ]
    engine.process(OrderReject(OPEN + 3100, exit1.order.client_order_id, "no match"))
    quick = run(
        engine, [*two_sided(OPEN + 3500, W, 0.47, 0.49), *two_sided(OPEN + 3900, W, 0.46, 0.48)]
    )
    assert [c for c in quick if hasattr(c, "order")] == []  # no resend storm
    later = run(engine, [*two_sided(OPEN + 4200, W, 0.46, 0.48)])
    (exit2,) = [c for c in later if hasattr(c, "order")]
    assert exit2.order.position_id == exit1.order.position_id
