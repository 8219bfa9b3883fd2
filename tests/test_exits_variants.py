"""Spec Phase 2 variants A–E: each exit fires AT its threshold on the held token's bid (not a tick
late), with trigger, intended and actual prices recorded; plus the exit priority rules."""

from __future__ import annotations

from decimal import Decimal

from engine_kit import CLOSE, OPEN, book, listed, make_engine, of_type, resolved, run, window

from live.kernel.domain import ExitReason, OrderPurpose, PositionState, RiskParams
from live.kernel.exits import decide_exit
from live.kernel.records import PositionEventRecord

W = window(tick="0.001")
ENTRY_TS = CLOSE - 60_000


def entered(strategy: str):
    """An engine whose canary-style strategy bought Up at 0.600 at T−60 s."""
    engine = make_engine(strategy)
    run(
        engine,
        [
            listed(W),
            book(OPEN + 1000, W.token_up, [(0.58, 500)], [(0.6, 500)]),
            book(OPEN + 1000, W.token_down, [(0.4, 500)], [(0.42, 500)]),
            book(ENTRY_TS, W.token_down, [(0.4, 500)], [(0.42, 500)]),
        ],
    )
    (pos,) = list(engine.positions)
    assert pos.state is PositionState.MONITORING and pos.entry_price == Decimal("0.6")
    engine.take_records()
    return engine, pos.position_id


def bid(engine, ts: int, price: float) -> None:
    engine.process(book(ts, W.token_up, [(price, 500)], [(round(price + 0.02, 3), 500)]))


def exit_event(engine, pid: str) -> PositionEventRecord | None:
    events = [
        r
        for r in of_type(engine.records, PositionEventRecord)
        if r.position_id == pid and r.to_state == "EXIT_PENDING" and r.intended_price is not None
    ]
    return events[0] if events else None


def state(engine, pid: str) -> PositionState:
    return engine.positions.get(pid).state


def test_variant_a_stop_loss_5pct_fires_at_threshold_not_a_tick_late() -> None:
    engine, pid = entered("canary-exit-a")
    bid(engine, ENTRY_TS + 1000, 0.571)  # one tick above 0.600 × 0.95
    assert state(engine, pid) is PositionState.MONITORING
    bid(engine, ENTRY_TS + 2000, 0.57)
    sent = exit_event(engine, pid)
    assert sent is not None and sent.trigger_price == Decimal("0.57")
    assert sent.intended_price == Decimal("0.57")
    pos = engine.positions.get(pid)
    assert pos.state is PositionState.CLOSED and pos.exit_reason == "STOP_LOSS"
    assert pos.exit_price == Decimal("0.57")
    fills = [r for r in of_type(engine.records, PositionEventRecord) if r.reason == "exit fill"]
    assert fills[0].actual_price == Decimal("0.57")


def test_variant_b_stop_loss_15pct_fires_at_threshold() -> None:
    engine, pid = entered("canary-exit-b")
    bid(engine, ENTRY_TS + 1000, 0.511)
    assert state(engine, pid) is PositionState.MONITORING
    bid(engine, ENTRY_TS + 2000, 0.51)
    assert engine.positions.get(pid).exit_reason == "STOP_LOSS"


def test_variant_c_take_profit_20pct_fires_first_when_price_rises() -> None:
    engine, pid = entered("canary-exit-c")
    bid(engine, ENTRY_TS + 1000, 0.719)
    assert state(engine, pid) is PositionState.MONITORING
    bid(engine, ENTRY_TS + 2000, 0.72)
    pos = engine.positions.get(pid)
    assert pos.exit_reason == "TAKE_PROFIT" and pos.state is PositionState.CLOSED
    assert exit_event(engine, pid).trigger_price == Decimal("0.72")


def test_variant_c_stop_loss_fires_first_when_price_falls() -> None:
    engine, pid = entered("canary-exit-c")
    bid(engine, ENTRY_TS + 1000, 0.57)
    assert engine.positions.get(pid).exit_reason == "STOP_LOSS"


def test_variant_d_trailing_10pct_follows_the_peak_bid() -> None:
    engine, pid = entered("canary-exit-d")
    bid(engine, ENTRY_TS + 1000, 0.7)  # new peak
    bid(engine, ENTRY_TS + 2000, 0.631)  # 0.700 × 0.9 = 0.630
    assert state(engine, pid) is PositionState.MONITORING
    bid(engine, ENTRY_TS + 3000, 0.63)
    pos = engine.positions.get(pid)
    assert pos.exit_reason == "TRAILING_STOP"
    assert exit_event(engine, pid).trigger_price == Decimal("0.63")


def test_variant_e_stop_loss_50pct_never_fires_on_a_normal_drop() -> None:
    engine, pid = entered("canary-exit-e")
    for i, price in enumerate((0.5, 0.4, 0.301)):
        bid(engine, ENTRY_TS + 1000 * (i + 1), price)
    assert state(engine, pid) is PositionState.MONITORING
    run(
        engine,
        [book(CLOSE, W.token_down, [(0.6, 5)], [(0.62, 5)]), resolved(CLOSE + 50_000, W, "DOWN")],
    )
    pos = engine.positions.get(pid)
    assert pos.state is PositionState.CLOSED and pos.exit_reason == "EXPIRY"
    assert pos.pnl_gross == -pos.cost


def test_exit_orders_are_fak_sells_of_the_filled_shares() -> None:
    engine, pid = entered("canary-exit-a")
    bid(engine, ENTRY_TS + 1000, 0.5)
    exits = [o for o in engine.orders if o.purpose is OrderPurpose.EXIT]
    assert len(exits) == 1
    assert exits[0].requested_shares == engine.positions.tracks[pid].bought
    assert exits[0].worst_price == Decimal("0.498")


def test_priority_flatten_then_stop_then_trailing_then_take_profit_then_expiry() -> None:
    risk = RiskParams(Decimal("0.05"), Decimal("0.2"), Decimal("0.1"))
    args = dict(entry_price=Decimal("0.6"), risk=risk, now=0, close_ts=10)
    hit_all = dict(bid=Decimal("0.5"), peak_bid=Decimal("0.6"))
    assert decide_exit(flatten=True, **hit_all, **args).reason is ExitReason.FLATTEN
    assert decide_exit(flatten=False, **hit_all, **args).reason is ExitReason.STOP_LOSS
    trail_only = dict(bid=Decimal("0.72"), peak_bid=Decimal("0.9"))
    assert decide_exit(flatten=False, **trail_only, **args).reason is ExitReason.TRAILING_STOP
    tp = dict(bid=Decimal("0.72"), peak_bid=Decimal("0.72"))
    assert decide_exit(flatten=False, **tp, **args).reason is ExitReason.TAKE_PROFIT
    late = {**args, "now": 10}
    quiet = dict(bid=Decimal("0.6"), peak_bid=Decimal("0.6"))
    assert decide_exit(flatten=False, **quiet, **late).reason is ExitReason.EXPIRY
    assert decide_exit(flatten=False, **quiet, **args) is None
