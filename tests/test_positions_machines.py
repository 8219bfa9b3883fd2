"""Order and position state machines: tables, idempotency, UNKNOWN, partial fills, dust."""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_kit import OPEN, listed, make_engine, of_type, run, signal, two_sided, window

from live.kernel.domain import DenyCode, Mode, OrderState, PositionState
from live.kernel.events import BalanceReport, OrderAck, OrderCancel, OrderFill, OrderReject
from live.kernel.fsm import InvalidTransition, transition
from live.kernel.order_book import TRANSITIONS as ORDER_TABLE
from live.kernel.positions import TRANSITIONS as POSITION_TABLE
from live.kernel.records import BreakerRecord, DecisionRecord, OrderEventRecord

W = window()


def live_engine():
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)])
    engine.process(BalanceReport(OPEN + 1000, Decimal("50")))
    return engine


def place(engine, ts: int = OPEN + 2000, ident: str = "a", usd: str = "1") -> str:
    (command,) = engine.process(signal(ts, W, usd=usd, signal_id=ident))
    return command.order.client_order_id


def fill(cid: str, ts: int, shares: str, fid: str, price: str = "0.5") -> OrderFill:
    return OrderFill(ts, cid, fid, Decimal(price), Decimal(shares), Decimal("0"))


def test_transition_raises_naming_state_and_event() -> None:
    with pytest.raises(InvalidTransition, match="from FILLED on ack"):
        transition(ORDER_TABLE, "order", "x", OrderState.FILLED, "ack")


def test_every_order_and_position_state_is_reachable() -> None:
    order_targets = {OrderState.NEW} | set(ORDER_TABLE.values())
    assert order_targets == set(OrderState)
    position_targets = {PositionState.ENTRY} | set(POSITION_TABLE.values())
    assert position_targets == set(PositionState)


def test_exact_duplicate_venue_events_are_idempotent() -> None:
    engine = live_engine()
    cid = place(engine)
    ack = OrderAck(OPEN + 2100, cid, "v1")
    f = fill(cid, OPEN + 2200, "2", "t1")
    run(engine, [ack, ack, f, f])
    order = engine.orders.get(cid)
    assert order.state is OrderState.FILLED and order.filled_shares == Decimal("2")
    (pos,) = list(engine.positions)
    assert pos.shares == Decimal("2")
    assert not engine.breaker.tripped


def test_invalid_transition_trips_the_breaker() -> None:
    engine = live_engine()
    cid = place(engine)
    run(engine, [OrderReject(OPEN + 2100, cid, "no"), OrderAck(OPEN + 2200, cid, "v1")])
    assert engine.breaker.tripped
    assert "invalid transition" in of_type(engine.records, BreakerRecord)[0].reason


def test_fill_for_an_order_we_never_sent_trips_the_breaker() -> None:
    engine = live_engine()
    engine.process(fill("ghost", OPEN + 2000, "1", "t9"))
    assert engine.breaker.tripped


def test_unconfirmed_order_becomes_unknown_after_5s_and_blocks_reentry() -> None:
    engine = live_engine()
    cid = place(engine)
    engine.process(BalanceReport(OPEN + 6999, Decimal("50")))
    assert engine.orders.get(cid).state is OrderState.SUBMITTED
    engine.process(BalanceReport(OPEN + 7000, Decimal("50")))
    assert engine.orders.get(cid).state is OrderState.UNKNOWN
    engine.process(signal(OPEN + 8000, W, side="DOWN", signal_id="b"))
    assert of_type(engine.records, DecisionRecord)[-1].code == DenyCode.UNKNOWN_ORDER_BLOCK
    engine.process(OrderReject(OPEN + 9000, cid, "not found"))  # targeted query answered
    assert not engine.orders.unknown_on(W.slug)


def test_partial_fill_uses_the_filled_amount_not_the_requested() -> None:
    engine = live_engine()
    cid = place(engine, usd="2")
    run(
        engine,
        [
            OrderAck(OPEN + 2100, cid, "v"),
            fill(cid, OPEN + 2200, "1.5", "t1"),
            OrderCancel(OPEN + 2300, cid, "FAK remainder"),
        ],
    )
    order = engine.orders.get(cid)
    assert order.state is OrderState.CANCELLED and order.filled_shares == Decimal("1.5")
    (pos,) = list(engine.positions)
    assert pos.shares == Decimal("1.5") and pos.cost == Decimal("0.75")
    assert pos.state is PositionState.MONITORING


def test_residual_under_a_hundredth_of_a_share_counts_as_filled() -> None:
    engine = live_engine()
    cid = place(engine, usd="2")
    run(engine, [OrderAck(OPEN + 2100, cid, "v"), fill(cid, OPEN + 2200, "3.9951", "t1")])
    assert engine.orders.get(cid).state is OrderState.FILLED


def test_rejected_order_creates_no_position() -> None:
    engine = live_engine()
    cid = place(engine)
    engine.process(OrderReject(OPEN + 2100, cid, "not enough balance / allowance"))
    assert not list(engine.positions)
    events = [r.to_state for r in of_type(engine.records, OrderEventRecord)]
    assert events == ["NEW", "SUBMITTED", "REJECTED"]


def test_exit_pending_position_is_not_touched_by_new_entries() -> None:
    engine = live_engine()
    cid = place(engine, usd="4")
    run(engine, [OrderAck(OPEN + 2100, cid, "v"), fill(cid, OPEN + 2200, "8", "t1")])
    from engine_kit import control

    (exit_cmd,) = [
        c
        for c in engine.process(control(OPEN + 3000, "kill_switch", "flatten"))
        if hasattr(c, "order")
    ]
    (pos,) = list(engine.positions)
    assert pos.state is PositionState.EXIT_PENDING
    engine.process(control(OPEN + 3100, "kill_switch", "off"))
    second = place(engine, ts=OPEN + 3200, ident="b")
    run(engine, [OrderAck(OPEN + 3300, second, "v2"), fill(second, OPEN + 3400, "2", "t2")])
    assert engine.positions.get(pos.position_id).shares == Decimal("8")
    assert engine.positions.get(pos.position_id).state is PositionState.EXIT_PENDING
    assert len(list(engine.positions)) == 2
    assert exit_cmd.order.position_id == pos.position_id
