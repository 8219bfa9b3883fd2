"""The engine side of the dropped-confirmation drill, without the sandbox: the venue adapter's
UNKNOWN and the engine's own 5 s deadline can arrive in either order (same default timeout), and
neither order may trip the breaker; an UNKNOWN always alerts and blocks re-entry on its window
until the venue's final answer."""

from __future__ import annotations

from decimal import Decimal

from engine_kit import OPEN, listed, make_engine, signal, timer, two_sided, window

from live.kernel.commands import Alert, PlaceOrder
from live.kernel.domain import Mode
from live.kernel.events import BalanceReport, OrderAck, OrderFill, OrderUnknown

W = window()


def _live_order():
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    for event in [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)]:
        engine.process(event)
    engine.process(BalanceReport(OPEN + 1500, Decimal("68")))
    (command,) = engine.process(signal(OPEN + 2000, W, signal_id="a"))
    assert isinstance(command, PlaceOrder)
    return engine, command.order.client_order_id


def _alerts(commands) -> list[str]:
    return [c.kind for c in commands if isinstance(c, Alert)]


def test_adapter_unknown_after_our_deadline_is_not_a_transition_error():
    engine, cid = _live_order()
    assert _alerts(engine.process(timer(OPEN + 7100))) == ["order_unknown"]  # our deadline
    assert engine.orders.get(cid).state == "UNKNOWN"
    engine.process(OrderUnknown(OPEN + 7300, cid, "post unresolved"))  # the adapter, later
    assert not engine.breaker.tripped, engine.breaker.reasons
    assert engine.orders.get(cid).state == "UNKNOWN"
    assert engine.orders.unknown_on(W.slug)


def test_adapter_unknown_before_our_deadline_alerts_and_blocks_reentry():
    engine, cid = _live_order()
    engine.process(OrderAck(OPEN + 2200, cid, "0xv"))
    commands = engine.process(OrderUnknown(OPEN + 4300, cid, "no final confirmation"))
    assert _alerts(commands) == ["order_unknown"]
    assert engine.orders.unknown_on(W.slug)
    assert engine.process(timer(OPEN + 8000)) == []  # no second alert from our deadline
    engine.process(OrderFill(OPEN + 9000, cid, "t1:0xv", Decimal("0.52"), Decimal("1.923077"), 0))
    assert engine.orders.get(cid).state == "FILLED" and not engine.orders.unknown_on(W.slug)
    assert not engine.breaker.tripped, engine.breaker.reasons
