"""Issue 15: the venue's answers to orders adopted after a crash (`resolve_from_venue`), from
the venue's own records (its open orders and our recent trades) as the runner's snapshot has
them."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from engine_kit import OPEN, listed, make_engine, signal, two_sided, window

from live.kernel.domain import Mode, OrderState
from live.kernel.events import BalanceReport, OrderAck, OrderCancel, OrderFill, OrderReject
from live.runner.adoption import resolve_from_venue
from live.venues.port import VenueOrder, VenueSnapshot, VenueTrade

W = window()
NOW = OPEN + 60_000


def adoption_with_one_order(state: OrderState = OrderState.SUBMITTED, vid: str | None = None):
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    for event in [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)]:
        engine.process(event)
    engine.process(BalanceReport(OPEN + 1500, Decimal("50")))
    (command,) = engine.process(signal(OPEN + 2000, W, usd="2", signal_id="s"))
    cid = command.order.client_order_id
    if vid is not None:
        engine.process(OrderAck(OPEN + 2100, cid, vid))
    adoption = engine.export_adoption()
    (adopted,) = adoption.orders
    order = replace(adopted.order, state=state)
    return replace(adoption, orders=(replace(adopted, order=order),)), cid


def trade(vid: str, token: str, shares: str, status: str = "CONFIRMED", n: int = 1) -> VenueTrade:
    return VenueTrade(
        f"t{n}",
        vid,
        token,
        "BUY",
        Decimal("0.52"),
        Decimal(shares),
        Decimal(0),
        status,
        OPEN + 2050,
    )


def snapshot(*trades: VenueTrade, open_ids: tuple[str, ...] = ()) -> VenueSnapshot:
    orders = tuple(
        VenueOrder(v, W.token_up, "BUY", Decimal("0.5"), Decimal(1), Decimal(0)) for v in open_ids
    )
    return VenueSnapshot(NOW, Decimal(50), {}, orders, tuple(trades))


def test_killed_after_the_post_before_the_ack_is_matched_to_its_trades() -> None:
    adoption, cid = adoption_with_one_order()
    events = resolve_from_venue(adoption, snapshot(trade("0xnew", W.token_up, "3.846")), (), NOW)
    assert [type(e) for e in events] == [OrderAck, OrderFill]
    assert events[0].venue_order_id == "0xnew" and events[1].fill_id == "t1:0xnew"
    assert events[1].shares == Decimal("3.846")


def test_a_fill_short_of_the_order_gets_its_rest_cancelled() -> None:
    adoption, cid = adoption_with_one_order()
    events = resolve_from_venue(adoption, snapshot(trade("0xnew", W.token_up, "1")), (), NOW)
    assert [type(e) for e in events] == [OrderAck, OrderFill, OrderCancel]


def test_never_executed_is_rejected_and_a_known_venue_order_is_not_matched() -> None:
    adoption, cid = adoption_with_one_order()
    (event,) = resolve_from_venue(adoption, snapshot(), (), NOW)
    assert isinstance(event, OrderReject) and "not found" in event.reason
    known = snapshot(trade("0xold", W.token_up, "3.846"))
    (event,) = resolve_from_venue(adoption, known, ("0xold",), NOW)
    assert isinstance(event, OrderReject)


def test_an_acked_order_gets_its_unbooked_trades_and_waits_while_one_is_settling() -> None:
    adoption, cid = adoption_with_one_order(OrderState.ACKED, vid="0xv")
    events = resolve_from_venue(adoption, snapshot(trade("0xv", W.token_up, "3.846")), (), NOW)
    assert [type(e) for e in events] == [OrderFill]
    settling = snapshot(trade("0xv", W.token_up, "3.846", status="MATCHED"))
    assert resolve_from_venue(adoption, settling, (), NOW) == []
    booked = replace(adoption, fill_ids=frozenset({"t1:0xv"}))
    resting = snapshot(trade("0xv", W.token_up, "1"), open_ids=("0xv",))
    assert resolve_from_venue(booked, resting, (), NOW) == []  # still working at the venue
