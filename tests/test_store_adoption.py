"""The database path of adoption (live/store/adoption.py): what an engine's records, written by the
sink, give back as the `Adoption` the runner adopts — here the closed positions a working order
still refers to (an entry answered after its window resolved and its position closed)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import psycopg
from engine_kit import CLOSE, OPEN, listed, make_engine, resolved, run, signal, two_sided, window

from live.kernel.domain import Mode, OrderState, PositionState
from live.kernel.engine import Engine
from live.kernel.events import BalanceReport, OrderAck, OrderFill
from live.store.adoption import load_adoption
from live.store.sink import Sink

W = window()
ZERO = Decimal(0)


def _live() -> Engine:
    return make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)


def _entry_working_on_a_closed_position() -> tuple[Engine, str, str]:
    """A LIVE engine whose first entry filled (its position p), a second entry on the same
    window and side (same position) still unanswered when the window resolved and closed p."""
    engine = _live()
    run(engine, [listed(W, OPEN - 200_000), BalanceReport(OPEN - 100_000, Decimal("100"))])
    run(engine, two_sided(OPEN - 90_000, W, 0.5, 0.52))
    (first,) = engine.process(signal(OPEN + 1000, W, usd="2", signal_id="a"))
    cid = first.order.client_order_id
    engine.process(OrderAck(OPEN + 1100, cid, "v1"))
    engine.process(OrderFill(OPEN + 1200, cid, "tr1:v1", Decimal("0.52"), Decimal("3.84"), ZERO))
    (second,) = engine.process(signal(OPEN + 2000, W, usd="2", signal_id="b"))
    engine.process(resolved(CLOSE + 20_000, W, "DOWN"))
    return engine, second.order.client_order_id, second.order.position_id


def _store(conn: psycopg.Connection, engine: Engine) -> None:
    """The engine's records through the sink, and its windows as the runner's listing has them."""
    sink = Sink(conn, engine.run_id)
    sink.open_run(kind="session", mode=Mode.LIVE, venue="sandbox")
    sink.extend(engine.take_records())
    sink.flush()
    for ws in engine.market.windows.values():
        w = ws.window
        conn.execute(
            "INSERT INTO windows (slug, venue, asset, length_s, open_ts, close_ts, condition_id,"
            " token_up, token_down, tick_size, min_size, fee_rate, settlement_rule, strike,"
            " status, winner) VALUES (%s, 'sandbox', %s, %s, to_timestamp(%s / 1000.0),"
            " to_timestamp(%s / 1000.0), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                w.slug,
                str(w.asset),
                w.length_s,
                w.open_ts,
                w.close_ts,
                w.condition_id,
                w.token_up,
                w.token_down,
                w.tick_size,
                w.min_size,
                w.fee_rate,
                str(w.settlement_rule),
                w.strike,
                str(ws.status),
                None if ws.winner is None else str(ws.winner),
            ),
        )
    conn.commit()


def test_the_closed_position_a_working_entry_refers_to_is_loaded_and_meets_its_late_fill(
    db_url: str,
) -> None:
    steady, cid, pid = _entry_working_on_a_closed_position()
    assert steady.positions.positions[pid].state is PositionState.CLOSED
    assert steady.orders.orders[cid].state not in (OrderState.FILLED, OrderState.CANCELLED)
    with psycopg.connect(db_url) as conn:
        _store(conn, steady)
        adoption, excluded = load_adoption(conn, "LIVE", steady.now)
    assert excluded == []
    exported = steady.export_adoption()
    assert [ap.position.position_id for ap in adoption.closed_positions] == [pid]
    (loaded,) = adoption.closed_positions
    (held,) = exported.closed_positions
    assert loaded.position.state is PositionState.CLOSED
    assert loaded.position.pnl_net == held.position.pnl_net
    assert (loaded.bought, loaded.sold) == (held.bought, held.sold)
    assert adoption.realised_net == exported.realised_net

    restarted = _live()
    # the runner's cash comes from the account watch; the rest as the database holds it
    restarted.adopt(replace(adoption, cash=exported.cash, initial_cash=exported.initial_cash))
    assert restarted.entries.session_loss() == steady.entries.session_loss()
    for reason in steady.breaker.reasons:  # the runner's breaker, not the adoption's to carry
        restarted.trip(reason)
    late = [
        OrderAck(CLOSE + 21_000, cid, "v2"),
        OrderFill(CLOSE + 21_100, cid, "tr2:v2", Decimal("0.52"), Decimal("3.84"), ZERO),
    ]
    for event in late:
        steady.process(event)
        restarted.process(event)
    # the late fill met the same closed position in both: no new position, nothing orphaned
    assert restarted.positions.positions[pid] == steady.positions.positions[pid]
    assert list(restarted.positions.open_positions()) == list(steady.positions.open_positions())
    assert restarted.breaker.reasons == steady.breaker.reasons
    assert restarted.entries.session_loss() == steady.entries.session_loss()
