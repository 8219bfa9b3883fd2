"""The persistence sink writes every engine record type to its table, batched and idempotent."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from live.kernel import records
from live.kernel.domain import (
    Fill,
    Mode,
    Order,
    OrderPurpose,
    OrderSide,
    OrderState,
    OrderType,
    Outcome,
    Position,
    PositionState,
)
from live.store.sink import Sink

RUN = "run-sink-test"
T0 = 1780876740000


def _order(state: OrderState, filled: str = "0", venue_id: str | None = None) -> Order:
    return Order(
        client_order_id="c-1",
        venue_order_id=venue_id,
        mode=Mode.BACKTEST,
        run_id=RUN,
        strategy="canary",
        window_slug="btc-updown-5m-1780876500",
        signal_id="s-1",
        position_id="p-1",
        token_id="111",
        outcome=Outcome.UP,
        side=OrderSide.BUY,
        purpose=OrderPurpose.ENTRY,
        order_type=OrderType.FAK,
        requested_usd=Decimal("1"),
        requested_shares=None,
        worst_price=Decimal("0.56"),
        filled_shares=Decimal(filled),
        avg_price=Decimal("0.54") if filled != "0" else None,
        fee=Decimal("0.01"),
        state=state,
        reason=None,
        payload={"price": Decimal("0.56")},
        book_snapshot={"asks": [["0.54", "9"]]},
        created_ts=T0,
        updated_ts=T0 + 5,
    )


def _position(state: PositionState, closed: int | None = None) -> Position:
    return Position(
        position_id="p-1",
        mode=Mode.BACKTEST,
        run_id=RUN,
        strategy="canary",
        window_slug="btc-updown-5m-1780876500",
        asset="BTC",
        outcome=Outcome.UP,
        token_id="111",
        state=state,
        shares=Decimal("1.85"),
        entry_price=Decimal("0.54"),
        cost=Decimal("0.999"),
        fees=Decimal("0.01"),
        mark_price=None,
        exit_price=None,
        proceeds=Decimal(0),
        stop_loss=None,
        take_profit=None,
        trailing_stop=None,
        exit_reason=None,
        resolution=None,
        pnl_gross=None,
        pnl_net=None,
        opened_ts=T0,
        updated_ts=T0,
        closed_ts=closed,
    )


def _redemption(status: str) -> records.RedemptionRecord:
    done = status == "REDEEMED"
    return records.RedemptionRecord(
        "p-1",
        Mode.BACKTEST,
        RUN,
        "btc-updown-5m-1780876500",
        "0xcond",
        "tok-up",
        Decimal("1.85"),
        True,
        Decimal("1.85"),
        status,
        T0 + 60_000,
        T0 + 70_000 if done else None,
        "rpc" if done else None,
        "0xabc" if done else None,
        1 if done else 0,
    )


def _records() -> list:
    fill = Fill(
        "f-1", "c-1", Mode.BACKTEST, RUN, T0 + 5, Decimal("0.54"), Decimal("1.85"), Decimal("0.01")
    )
    return [
        records.SignalRecord(
            "s-1",
            T0,
            Mode.BACKTEST,
            RUN,
            "canary",
            "btc-updown-5m-1780876500",
            "BTC",
            "UP",
            Decimal("1"),
            None,
            None,
            None,
            None,
            None,
            {"clob": 0.54},
        ),
        records.DecisionRecord(
            T0,
            Mode.BACKTEST,
            RUN,
            "s-1",
            "canary",
            "btc-updown-5m-1780876500",
            "APPROVED",
            None,
            {},
            {"balance": Decimal("68")},
            "entered because: ...",
        ),
        _order(OrderState.NEW),
        records.OrderEventRecord("c-1", T0, None, "NEW"),
        _order(OrderState.FILLED, "1.85", "v-1"),
        records.OrderEventRecord("c-1", T0 + 5, "NEW", "FILLED"),
        fill,
        fill,  # a re-delivered fill must not be counted twice
        _position(PositionState.ENTRY),
        records.PositionEventRecord("p-1", T0 + 5, None, "ENTRY"),
        records.SettlementRecord(
            "btc-updown-5m-1780876500",
            Mode.BACKTEST,
            RUN,
            "UP",
            None,
            "pending",
            "spot_at_close",
            Decimal("63123.5"),
            Decimal("63304.2"),
            T0 + 60_000,
            None,
        ),
        _redemption("PENDING"),
        _redemption("REDEEMED"),  # the latest row per position wins
        records.BalanceRecord(T0, Mode.BACKTEST, RUN, "engine", Decimal("99.000001")),
        records.BalanceRecord(T0, Mode.BACKTEST, RUN, "receivable", Decimal("1.85")),
        records.AssertionRecord(T0, "signal_has_one_order", True, {}, Mode.BACKTEST, RUN),
        records.BreakerRecord(T0, True, "assertion", {"name": "x"}, Mode.BACKTEST, RUN),
    ]


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as connection:
        yield connection


def _count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_every_record_reaches_its_table(conn):
    sink = Sink(conn, RUN, batch_size=1000)
    sink.open_run(kind="replay", mode=Mode.BACKTEST, strategy="canary", assets=["BTC"])
    sink.extend(_records())
    sink.finish({"agree": 1}, data_from_ms=T0, data_to_ms=T0 + 1000)
    for table in records.TABLE.values():
        assert _count(conn, table) >= 1, table
    assert _count(conn, "fills") == 1 and _count(conn, "orders") == 1
    assert conn.execute(
        "SELECT status, via, redeemed_ts IS NOT NULL FROM redemptions"
    ).fetchall() == [("REDEEMED", "rpc", True)]
    state, venue_id, payload = conn.execute(
        "SELECT state, venue_order_id, payload FROM orders"
    ).fetchone()
    assert (state, venue_id, payload) == ("FILLED", "v-1", {"price": "0.56"})
    summary, finished = conn.execute(
        "SELECT summary, finished_at IS NOT NULL FROM backtest_runs WHERE run_id = %s", (RUN,)
    ).fetchone()
    assert summary == {"agree": 1} and finished


def test_small_batches_flush_parents_before_children_and_stay_idempotent(conn):
    sink = Sink(conn, RUN, batch_size=1)
    sink.open_run(kind="backtest", mode=Mode.BACKTEST)
    for record in _records():
        sink.add(record)
        sink.flush_if_full()
    sink.extend(_records()[6:8])  # the fill once more, in a later batch
    sink.flush()
    assert _count(conn, "fills") == 1
    assert _count(conn, "order_events") == 2


def test_positions_and_settlements_are_updated_in_place(conn):
    sink = Sink(conn, RUN)
    sink.open_run(kind="replay", mode=Mode.BACKTEST)
    sink.extend(_records())
    sink.flush()
    sink.add(_position(PositionState.CLOSED, closed=T0 + 400_000))
    sink.add(
        records.SettlementRecord(
            "btc-updown-5m-1780876500",
            Mode.BACKTEST,
            RUN,
            "UP",
            "UP",
            "agree",
            "spot_at_close",
            Decimal("63123.5"),
            Decimal("63304.2"),
            T0 + 60_000,
            T0 + 76_000,
        )
    )
    sink.flush()
    assert conn.execute("SELECT state FROM positions").fetchone() == ("CLOSED",)
    assert conn.execute("SELECT agreement, venue FROM settlements").fetchall() == [("agree", "UP")]


@pytest.mark.parametrize("status", ["MATCHED", "MINED", "RETRYING", "CONFIRMED", "FAILED"])
def test_a_fill_takes_every_trade_status_the_venue_reports(conn, status):
    """Polymarket reports a trade MATCHED, MINED, RETRYING, CONFIRMED or FAILED; the fills table
    refused RETRYING, so one such trade failed the whole record batch (store unreachable)."""
    sink = Sink(conn, RUN)
    sink.open_run(kind="replay", mode=Mode.BACKTEST)
    sink.extend(_records())
    fill = Fill(
        "f-1",
        "c-1",
        Mode.BACKTEST,
        RUN,
        T0 + 5,
        Decimal("0.54"),
        Decimal("1.85"),
        Decimal("0.01"),
        status=status,
    )
    sink.add(fill)
    sink.flush()
    assert conn.execute("SELECT status FROM fills WHERE fill_id = 'f-1'").fetchall() == [(status,)]
