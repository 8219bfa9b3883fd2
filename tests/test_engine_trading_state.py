"""Trading states ACTIVE / PAUSED / FLATTENING / EMERGENCY and the circuit breaker."""

from __future__ import annotations

from decimal import Decimal

from engine_kit import OPEN, book, control, listed, make_engine, of_type, run, signal, two_sided
from engine_kit import window as make_window

from live.kernel.commands import CancelOrder
from live.kernel.domain import DenyCode, Mode, PositionState, TradingState
from live.kernel.events import BalanceReport
from live.kernel.records import BreakerRecord, DecisionRecord

W = make_window()


def opened(**kw):
    engine = make_engine(**kw)
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)])
    return engine


def last_code(engine) -> str | None:
    return of_type(engine.records, DecisionRecord)[-1].code


def test_active_state_allows_entries() -> None:
    engine = opened()
    assert engine.trading_state is TradingState.ACTIVE
    run(engine, [signal(OPEN + 2000, W, signal_id="a")])
    assert last_code(engine) is None


def test_paused_state_denies_entries_but_stop_losses_still_fire() -> None:
    engine = opened()
    run(engine, [signal(OPEN + 2000, W, usd="4", stop_loss="0.1", signal_id="a")])
    run(engine, [control(OPEN + 3000, "kill_switch", "pause")])
    assert engine.trading_state is TradingState.PAUSED
    run(engine, [signal(OPEN + 4000, W, side="DOWN", signal_id="b")])
    assert last_code(engine) == DenyCode.TRADING_STATE
    run(engine, [book(OPEN + 5000, W.token_up, [(0.4, 100)], [(0.42, 100)])])
    (pos,) = list(engine.positions)
    assert pos.exit_reason == "STOP_LOSS" and pos.state is PositionState.CLOSED


def test_flattening_closes_every_position_at_market_then_pauses() -> None:
    engine = opened()
    run(
        engine,
        [
            signal(OPEN + 2000, W, usd="4", signal_id="a"),
            signal(OPEN + 2001, W, "DOWN", usd="4", signal_id="b"),
        ],
    )
    assert len(list(engine.positions.open_positions())) == 2
    run(engine, [control(OPEN + 3000, "kill_switch", "flatten")])
    assert not list(engine.positions.open_positions())
    assert {p.exit_reason for p in engine.positions} == {"FLATTEN"}
    assert engine.trading_state is TradingState.PAUSED


def test_flatten_without_a_bid_waits_for_one() -> None:
    engine = opened()
    run(engine, [signal(OPEN + 2000, W, usd="4", signal_id="a")])
    run(engine, [book(OPEN + 2500, W.token_up, [], [(0.52, 10)])])
    run(engine, [control(OPEN + 3000, "kill_switch", "flatten")])
    assert engine.trading_state is TradingState.FLATTENING
    (pos,) = list(engine.positions)
    assert pos.state is PositionState.FLATTEN_REQUESTED
    run(engine, [book(OPEN + 4000, W.token_up, [(0.5, 100)], [(0.52, 10)])])
    assert engine.positions.get(pos.position_id).state is PositionState.CLOSED
    assert engine.trading_state is TradingState.PAUSED


def test_emergency_cancels_working_orders_and_closes_positions() -> None:
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)])
    engine.process(BalanceReport(OPEN + 1500, Decimal("50")))
    (place,) = engine.process(signal(OPEN + 2000, W, signal_id="a"))
    commands = engine.process(control(OPEN + 2500, "kill_switch", "emergency"))
    assert engine.trading_state is TradingState.EMERGENCY
    cancels = [c for c in commands if isinstance(c, CancelOrder)]
    assert [c.client_order_id for c in cancels] == [place.order.client_order_id]


def test_failed_assertion_trips_the_breaker_and_pauses_entries() -> None:
    engine = opened()
    engine.report_tick_duration(6_000)
    assert not engine.run_assertions()
    assert engine.breaker.tripped and engine.trading_state is TradingState.PAUSED
    assert of_type(engine.records, BreakerRecord)[0].reason == "assertion failed: tick_under_5s"
    run(engine, [signal(OPEN + 2000, W, signal_id="a")])
    assert last_code(engine) == DenyCode.TRADING_STATE


def test_invalid_control_value_fails_closed() -> None:
    engine = opened()
    run(engine, [control(OPEN + 1500, "max_position_usd", "50")])
    assert engine.breaker.tripped and engine.trading_state is TradingState.PAUSED


def test_resuming_after_pause_allows_entries_again() -> None:
    engine = opened()
    run(
        engine,
        [control(OPEN + 1500, "kill_switch", "pause"), control(OPEN + 1600, "kill_switch", "off")],
    )
    assert engine.trading_state is TradingState.ACTIVE
