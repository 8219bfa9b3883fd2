"""Every decision in one sentence, end to end (issue 16 item 7): the real engine's exit, settlement,
breaker and entry records reach PostgreSQL through the sink with their sentence and the inputs it
is rendered from; a control change through the store, and a kill-criterion hit through the
runner's strategy gate, write theirs; an order is "placed" when it was sent, not when it was
decided; the activity feed shows the sentences, escaped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from engine_kit import (
    CLOSE,
    OPEN,
    book,
    control,
    listed,
    make_engine,
    of_type,
    oracle,
    resolved,
    run,
    signal,
    timer,
    two_sided,
    window,
)

from live.kernel.audit import (
    clock,
    control_sentence,
    decision_sentence,
    exit_sentence,
    settlement_sentence,
)
from live.kernel.commands import PlaceOrder
from live.kernel.domain import Mode
from live.kernel.events import BalanceReport, OrderAck, OrderSent
from live.kernel.records import DecisionRecord
from live.kernel.settlement import SENTENCE_FIELDS
from live.promotion.kill_criteria import (
    MaxConsecutiveLossesKill,
    MaxDrawdownKill,
    MinWinRateAfterNKill,
    SprtKill,
    evaluate_kill,
)
from live.runner.gateway import OrderGateway
from live.runner.slots import EngineSlot
from live.runner.strategy_gate import StrategyGate
from live.store import controls
from live.store.db import make_pool
from live.store.sink import Sink
from panel_app import queries
from panel_app.models.command_center import activity
from panel_app.models.state import Snapshot
from panel_app.views.command_center import activity_html

W = window(tick="0.001")
ENTRY_TS = CLOSE - 60_000
RUN = "t"


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url) as c:
        yield c


def _persist(conn, engine, mode: Mode) -> None:
    sink = Sink(conn, RUN)
    sink.open_run(kind="session", mode=mode)
    sink.extend(engine.take_records())
    sink.flush()


def _stop_loss_then_settlement():
    """canary-exit-a buys Up at 0.600 at T−60 s, its 5 % stop fires at a 0.57 bid, the oracle
    closes above the strike and the venue resolves Up."""
    engine = make_engine("canary-exit-a")
    run(
        engine,
        [
            listed(W),
            book(OPEN + 1000, W.token_up, [(0.58, 500)], [(0.6, 500)]),
            book(OPEN + 1000, W.token_down, [(0.4, 500)], [(0.42, 500)]),
            book(ENTRY_TS, W.token_down, [(0.4, 500)], [(0.42, 500)]),
            book(ENTRY_TS + 2000, W.token_up, [(0.57, 500)], [(0.59, 500)]),
            oracle(CLOSE + 200, "100050.5"),
            timer(CLOSE + 1500),
            resolved(CLOSE + 3000, W, "UP"),
        ],
    )
    return engine


def test_an_exit_and_a_settlement_through_the_engine_store_their_sentences_with_inputs(conn):
    _persist(conn, _stop_loss_then_settlement(), Mode.PAPER)
    rows = conn.execute(
        """SELECT to_state, trigger_price, intended_price, detail, audit FROM position_events
           WHERE audit IS NOT NULL ORDER BY ts, id"""
    ).fetchall()
    assert [r[0] for r in rows] == ["STOP_TRIGGERED", "EXIT_PENDING", "EXIT_PENDING", "CLOSED"]
    _, trigger_price, _, inputs, audit = rows[0]
    assert trigger_price == Decimal("0.57")
    assert inputs["trigger"] == "STOP_LOSS" and Decimal(inputs["threshold"]) == Decimal("0.57")
    assert inputs["price_seen"] == "0.57" and inputs["parameter"] == "0.05"
    assert audit == (
        "exit because: stop-loss — bid $0.57 at 20:30:42.000 was at or below the threshold $0.57 "
        "(entry $0.60 − 5%); no exit order sent yet; actual exit price not known yet"
    )
    *_, inputs, audit = rows[-1]
    assert inputs["intended_price"] == "0.57" and Decimal(inputs["actual_price"]) == Decimal("0.57")
    assert audit == exit_sentence(inputs)  # rendered from what is stored beside it
    assert audit.endswith("; intended exit price $0.57; actual exit price $0.57")

    settlement = conn.execute(
        f"SELECT {', '.join(SENTENCE_FIELDS)}, audit FROM settlements"
    ).fetchone()
    *columns, audit = settlement
    stored = dict(zip(SENTENCE_FIELDS, columns, strict=True))
    stored["ts"] = int(stored["ts"].timestamp() * 1000)
    assert audit == settlement_sentence(stored)
    assert audit == (
        "settled btc-updown-5m-1780000000 at 20:31:43.000 because: rule spot_at_close (the first "
        "oracle price in the close second), strike $100,000.00, final price $100,050.50 ≥ strike "
        "→ ours UP; venue UP: we agree"
    )


def test_a_time_exit_says_what_settlement_paid():
    engine = make_engine("canary")
    run(
        engine,
        [
            listed(W),
            *two_sided(OPEN + 1000, W, 0.6, 0.62),
            timer(ENTRY_TS),
            timer(CLOSE + 1500),
            resolved(CLOSE + 3000, W, "UP"),
        ],
    )
    closed = [r for r in engine.records if getattr(r, "to_state", None) == "CLOSED"]
    assert closed[-1].audit == (
        "exit because: time exit — the position was still held at the window's close at "
        "20:31:40.000 (the time limit), last bid $0.60; no exit order: held to settlement; "
        "settled at $1.00 a share (UP won)"
    )
    assert closed[-1].detail["winner"] == "UP" and closed[-1].detail["payout"]


def test_the_kill_switchs_flatten_is_the_exit_trigger_of_a_manual_close():
    engine = make_engine("canary-exit-a")
    run(
        engine,
        [
            listed(W),
            *two_sided(OPEN + 1000, W, 0.58, 0.6),
            timer(ENTRY_TS),
            control(ENTRY_TS + 5000, "kill_switch", "flatten"),
        ],
    )
    sentences = [r.audit for r in engine.records if getattr(r, "audit", None)]
    assert sentences[-1] == (
        "exit because: flatten — the trading state was FLATTENING (the kill switch closes every "
        "position at market) at 20:30:45.000, bid $0.58; intended exit price $0.58; actual exit "
        "price $0.58"
    )


def test_a_breaker_trip_and_reset_store_their_sentences(conn):
    engine = _stop_loss_then_settlement()
    engine.trip("assertion failed: balance_matches", {"expected": "99.00", "venue": "98.00"})
    engine.reset_breaker(CLOSE + 9000)
    _persist(conn, engine, Mode.PAPER)
    assert [r[0] for r in conn.execute("SELECT audit FROM breaker_events ORDER BY id")] == [
        "breaker tripped at 20:31:43.000 because: assertion failed: balance_matches "
        "(expected=99.00, venue=98.00); no new entries until an operator resets it",
        "breaker reset at 20:31:49.000 because: operator reset; the breaker no longer blocks new "
        "entries",
    ]


def test_a_simulated_entry_is_placed_the_instant_it_is_decided(conn):
    _persist(conn, _stop_loss_then_settlement(), Mode.PAPER)
    audit, inputs = conn.execute(
        "SELECT audit, inputs FROM decisions WHERE verdict = 'APPROVED'"
    ).fetchone()
    sent = conn.execute(
        "SELECT sent_ts FROM orders WHERE client_order_id = %s", (inputs["client_order_id"],)
    ).fetchone()[0]
    assert sent == _dt(ENTRY_TS) and inputs["sent_ts"] == ENTRY_TS
    assert audit.endswith("risk check passed with $100.00 balance, order placed at 20:30:40.000")


def test_a_live_entry_is_placed_when_the_runner_sends_it_not_when_it_is_decided(conn):
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True)
    w = window()
    run(engine, [listed(w), BalanceReport(OPEN, Decimal("50"))])
    run(engine, [*two_sided(OPEN + 1000, w, 0.49, 0.51), signal(OPEN + 2000, w)])
    (decision,) = of_type(engine.records, DecisionRecord)
    assert decision.audit == decision_sentence(decision.inputs, None, {})
    assert "order placed at" not in decision.audit
    assert decision.audit.endswith(
        "decided at 20:26:42.000, order t-o000001 placed when the runner sends it (send time on "
        "the order)"
    )
    engine.process(OrderSent(OPEN + 2_040, "t-o000001"))  # the gateway, after its checks
    assert engine.orders.get("t-o000001").sent_ts == OPEN + 2_040
    _persist(conn, engine, Mode.LIVE)
    created, sent = conn.execute("SELECT created_ts, sent_ts FROM orders").fetchone()
    assert (created, sent) == (_dt(OPEN + 2_000), _dt(OPEN + 2_040))
    placed = [(ts, text) for ts, kind, text, _ in conn.execute(queries.ACTIVITY) if kind == "ORDER"]
    assert placed == [(_dt(OPEN + 2_040), "ORDER placed: btc-UP $1.00 @ $0.53 (entry buy, LIVE)")]


class _Venue:
    """A hand-written venue: acks every order, and notes what the gateway had said before."""

    def __init__(self, said: list) -> None:
        self.said, self.seen_before_send = said, []

    async def execute(self, payload):
        self.seen_before_send = list(self.said)
        cid = self.said[-1].client_order_id
        return SimpleNamespace(events=[OrderAck(OPEN + 2_090, cid, "v-1")], unsettled_trade_ids=())


def test_the_runners_gateway_reports_the_send_before_the_venue_answers():
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True)
    w = window()
    run(
        engine,
        [listed(w), BalanceReport(OPEN, Decimal("50")), *two_sided(OPEN + 1000, w, 0.49, 0.51)],
    )
    (place,) = [c for c in engine.process(signal(OPEN + 2000, w)) if isinstance(c, PlaceOrder)]
    said: list = []
    venue = _Venue(said)
    gateway = OrderGateway(venue, said.append, lambda: OPEN + 2_075, lambda: True)

    async def send() -> None:
        gateway.submit(place)
        await gateway.drain()

    asyncio.run(send())
    assert venue.seen_before_send == [OrderSent(OPEN + 2_075, place.order.client_order_id)]
    run(engine, said)
    assert engine.orders.get(place.order.client_order_id).sent_ts == OPEN + 2_075


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _changes(conn) -> list[tuple]:
    return conn.execute(
        """SELECT key, old_value, new_value, changed_by, db_role, operation, changed_at, audit
           FROM control_changes WHERE key IN ('max_position_usd', 'kill_switch')
           AND changed_by <> 'migration' ORDER BY id"""
    ).fetchall()


def test_a_control_change_stores_its_sentence_and_one_made_by_sql_gets_it_at_the_next_write(
    conn,
):
    controls.write(conn, "max_position_usd", "3", "alice")
    (*columns, audit), *_ = _changes(conn)
    assert audit == control_sentence(controls.change_inputs(tuple(columns)))
    role = conn.execute("SELECT session_user").fetchone()[0]
    assert audit == (
        f"control max_position_usd changed from 5 to 3 by alice (database role {role}) at "
        f"{clock(int(columns[-1].timestamp() * 1000))}"
    )
    conn.execute("UPDATE runtime_controls SET value = 'pause' WHERE key = 'kill_switch'")
    conn.commit()
    assert _changes(conn)[-1][-1] is None  # SQL alone: the row has no sentence yet
    controls.write(conn, "kill_switch", "off", "bob")
    sentences = [row[-1] for row in _changes(conn)]
    assert sentences[1].startswith("control kill_switch changed from off to pause by (not stated)")
    assert sentences[2].startswith("control kill_switch changed from pause to off by bob")


def test_each_kill_criterion_reports_its_threshold_and_measured_value():
    D = Decimal
    drawdown = evaluate_kill(MaxDrawdownKill(D("3")), [D("2"), D("-1"), D("-2")])
    assert (drawdown.hit, drawdown.threshold, drawdown.measured) == (True, D("3"), D("3"))
    streak = evaluate_kill(MaxConsecutiveLossesKill(3), [D(1), D(-1), D(0), D(-1)])
    assert (streak.threshold, streak.measured) == (D(3), D(3))
    rate = evaluate_kill(MinWinRateAfterNKill(n=5, min_win_rate=0.5), [D(-1)] * 3 + [D(1)] * 2)
    assert (rate.threshold, rate.measured) == (D("0.5"), D("0.4"))
    sprt = evaluate_kill(SprtKill("win_rate", 0.5, 0.6, 0.05, 0.2), [D(-1)] * 30)
    assert sprt.hit and sprt.measured <= sprt.threshold < 0  # the ratio when it decided


def test_a_kill_criterion_hit_is_recorded_with_its_sentence_and_disables_the_strategy(
    db_url, conn, tmp_path: Path
):
    (tmp_path / "preregistrations").mkdir()
    (tmp_path / "preregistrations" / "canary.yaml").write_text(
        "kill_criterion:\n  kind: max_drawdown\n  max_drawdown_usd: 2\n"
    )
    controls.write(conn, "allowed_strategies", "canary", "test")
    engine = make_engine("canary")
    slot = EngineSlot("primary", engine, None, False)
    pool = make_pool(db_url, max_size=2)
    alerts: list[tuple] = []
    losses = {"always-trade-canary": [Decimal("-1.25"), Decimal("-1")]}
    try:
        gate = StrategyGate(pool, tmp_path, ("live",), lambda *args: alerts.append(args))
        gate.check_kill(slot, losses)
        # a restarted runner (a new gate) sees the same losses: the strategy is already
        # disabled, so no second hit row, control change or alert
        again = StrategyGate(pool, tmp_path, ("live",), lambda *args: alerts.append(args))
        again.check_kill(slot, losses)
    finally:
        pool.close()
    assert conn.execute("SELECT count(*) FROM kill_criterion_hits").fetchone()[0] == 1
    assert len(alerts) == 1
    criterion, threshold, measured, n, mode, audit = conn.execute(
        "SELECT criterion, threshold, measured, n, mode, audit FROM kill_criterion_hits"
    ).fetchone()
    assert (criterion, threshold, measured, n, mode) == (
        "max_drawdown",
        2,
        Decimal("2.25"),
        2,
        "PAPER",
    )
    assert audit == (
        "strategy always-trade-canary disabled because: kill criterion max_drawdown hit — max "
        "drawdown 2.25 USD ≥ threshold 2 USD after 2 settled trades (max drawdown 2.25 USD, "
        "limit 2 USD); removed from allowed_strategies, promotions revoked"
    )
    change = conn.execute(
        "SELECT new_value, changed_by, audit FROM control_changes ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert change[:2] == ("none", "runner:kill-criterion")
    assert change[2].startswith("control allowed_strategies changed from canary to none by runner")
    assert alerts and alerts[0][0] == "kill_criterion_hit"
    feed = _newest(conn.execute(queries.ACTIVITY))
    assert feed["KILL"] == audit + " (PAPER)"


def _newest(rows) -> dict[str, str]:
    """The newest line of each kind (the feed is newest first)."""
    out: dict[str, str] = {}
    for _, kind, text, _ in rows:
        out.setdefault(kind, text)
    return out


def test_the_activity_feed_shows_the_sentences_escaped(conn):
    _persist(conn, _stop_loss_then_settlement(), Mode.PAPER)
    controls.write(conn, "kill_switch", "pause", "<b>mallory</b>")
    frames = queries.fetch(conn, {"activity": queries.ACTIVITY})
    feed = activity(Snapshot(datetime.now(UTC), frames))
    lines = zip(feed["kind"], feed["event"], strict=True)
    texts = _newest((None, kind, text, None) for kind, text in lines)
    assert texts["EXIT"].startswith("EXIT btc-UP (PAPER): exit because: stop-loss — bid $0.57")
    assert texts["SETTLEMENT"].startswith("settled btc-updown-5m-1780000000 at 20:31:43.000")
    assert texts["SETTLEMENT"].endswith("venue UP: we agree (PAPER)")
    assert texts["CONTROL"].startswith("control kill_switch changed from off to pause by <b>")
    html = activity_html(SimpleNamespace(activity=feed))
    assert "&lt;b&gt;mallory&lt;/b&gt;" in html and "<b>mallory" not in html
    assert "exit because: stop-loss — bid $0.57" in html and "≥ strike → ours UP" in html
