"""PAPER and DRY_RUN executors: book walk, FOK/FAK, worst price, consumed liquidity, fees,
impact flag, payload and snapshot."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from engine_kit import OPEN, book, listed, make_engine, of_type, run, signal, window

from live.kernel.book import Book
from live.kernel.domain import (
    Mode,
    Order,
    OrderPurpose,
    OrderSide,
    OrderState,
    OrderType,
    Outcome,
    taker_fee,
)
from live.kernel.events import OrderAck, OrderCancel, OrderFill, OrderReject
from live.kernel.executors import PaperExecutor

W = window(fee_rate="0.07")


def order(usd: str, worst: str = "0.6", kind: OrderType = OrderType.FAK, cid: str = "c1"):
    return Order(
        cid,
        None,
        Mode.PAPER,
        "t",
        "s",
        W.slug,
        None,
        "p",
        W.token_up,
        Outcome.UP,
        OrderSide.BUY,
        OrderPurpose.ENTRY,
        kind,
        Decimal(usd),
        None,
        Decimal(worst),
        Decimal(0),
        None,
        Decimal(0),
        OrderState.SUBMITTED,
        None,
        None,
        None,
        0,
        0,
    )


def asks(*levels: tuple[float, float]) -> Book:
    b = Book(W.token_up)
    b.apply_snapshot([], levels, 0)
    return b


def test_buy_walks_levels_for_a_vwap_within_the_worst_price() -> None:
    events = PaperExecutor(Decimal(100)).execute(order("2"), asks((0.5, 2), (0.55, 10)), W, 1)
    fills = [e for e in events if isinstance(e, OrderFill)]
    assert isinstance(events[0], OrderAck)
    assert [(f.price, f.shares) for f in fills] == [
        (Decimal("0.5"), Decimal("2")),
        (Decimal("0.55"), Decimal("1.818181")),
    ]


def test_fak_fills_what_it_can_and_cancels_the_rest() -> None:
    events = PaperExecutor(Decimal(100)).execute(order("5"), asks((0.5, 2), (0.7, 50)), W, 1)
    assert isinstance(events[-1], OrderCancel)
    assert sum(e.shares for e in events if isinstance(e, OrderFill)) == Decimal("2")


def test_fok_is_killed_when_not_fully_fillable() -> None:
    ev = PaperExecutor(Decimal(100)).execute(order("5", kind=OrderType.FOK), asks((0.5, 2)), W, 1)
    assert len(ev) == 1 and isinstance(ev[0], OrderReject)


def test_nothing_within_worst_price_is_rejected() -> None:
    (event,) = PaperExecutor(Decimal(100)).execute(order("1", worst="0.4"), asks((0.5, 9)), W, 1)
    assert isinstance(event, OrderReject)


def test_taken_liquidity_stays_taken_until_the_next_book_update() -> None:
    ex = PaperExecutor(Decimal(100))
    b = asks((0.5, 2))
    ex.execute(order("1", cid="a"), b, W, 1)
    second = ex.execute(order("1", cid="b"), b, W, 1)
    assert isinstance(second[0], OrderReject)
    b.apply_snapshot([], [(0.5, 2)], 2)
    third = ex.execute(order("1", cid="c"), b, W, 2)
    assert any(isinstance(e, OrderFill) for e in third)


def test_taker_fee_is_shares_rate_p_one_minus_p_to_5dp() -> None:
    assert taker_fee(Decimal("2"), Decimal("0.07"), Decimal("0.5")) == Decimal("0.035")
    assert taker_fee(Decimal("1.818181"), Decimal("0.07"), Decimal("0.55")) == Decimal("0.03150")
    events = PaperExecutor(Decimal(100)).execute(order("1"), asks((0.5, 10)), W, 1)
    (f,) = [e for e in events if isinstance(e, OrderFill)]
    assert f.fee == Decimal("0.035")


def test_order_above_half_the_visible_liquidity_is_flagged() -> None:
    small = PaperExecutor(Decimal(100)).execute(order("1"), asks((0.5, 100)), W, 1)
    big = PaperExecutor(Decimal(100)).execute(order("1"), asks((0.5, 3)), W, 1)
    assert not [e for e in small if isinstance(e, OrderFill)][0].impact_flag
    assert [e for e in big if isinstance(e, OrderFill)][0].impact_flag


def test_buy_below_one_dollar_is_rejected() -> None:
    (event,) = PaperExecutor(Decimal(100)).execute(order("0.5"), asks((0.5, 100)), W, 1)
    assert isinstance(event, OrderReject)


def test_dry_run_records_payload_and_book_snapshot_and_fills_at_the_touch() -> None:
    engine = make_engine(mode=Mode.DRY_RUN)
    run(
        engine,
        [
            listed(W),
            book(OPEN + 1000, W.token_up, [(0.5, 1)], [(0.52, 1), (0.6, 9)]),
            book(OPEN + 1000, W.token_down, [(0.46, 1)], [(0.5, 1)]),
            signal(OPEN + 2000, W, usd="2", signal_id="a"),
        ],
    )
    (o,) = list(engine.orders)
    assert o.payload["price"] == "0.54" and o.payload["amount"] == "2"
    assert o.book_snapshot["asks"][0] == ["0.52", "1"]
    assert o.state is OrderState.FILLED and o.avg_price == Decimal("0.52")
    from live.kernel.domain import Fill

    assert len(of_type(engine.records, Fill)) == 1


def test_paper_refuses_a_marketable_sell_under_one_dollar_like_the_venue() -> None:
    sell = replace(
        order("0", worst="0.45"),
        side=OrderSide.SELL,
        purpose=OrderPurpose.EXIT,
        requested_usd=None,
        requested_shares=Decimal("2"),
    )
    bids = Book(W.token_up)
    bids.apply_snapshot([(0.47, 100)], [], 0)
    (event,) = PaperExecutor(Decimal(100)).execute(sell, bids, W, 1)
    assert isinstance(event, OrderReject) and "SELL below $1" in event.reason
