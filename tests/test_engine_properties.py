"""Property tests over random event sequences (hypothesis): the risk envelope's invariants hold
whatever the market, the signals and the controls do."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from engine_kit import CLOSE, OPEN, book, control, listed, make_engine, resolved, signal, window
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from live.kernel.domain import ZERO, Fill, OrderPurpose, OrderState, PositionState
from live.kernel.limits import HARD_MAX_POSITION_USD, MAX_ORDERS_PER_WINDOW_PER_INSTRUMENT
from live.kernel.records import BreakerRecord
from live.kernel.risk import ENTRY_CUTOFF_MS

WINDOWS = [window("BTC"), window("ETH"), window("BTC", open_ts=CLOSE)]
AFTER_EXIT_PENDING = {PositionState.EXIT_PENDING, PositionState.SETTLEMENT, PositionState.CLOSED}

prices = st.integers(min_value=1, max_value=98).map(lambda c: c / 100)
times = st.one_of(
    st.integers(min_value=OPEN, max_value=CLOSE),
    st.integers(min_value=OPEN - 120_000, max_value=CLOSE + 400_000),
)


@st.composite
def book_event(draw):
    w = draw(st.sampled_from(WINDOWS))
    bid = draw(prices)
    depth = draw(st.floats(min_value=0.5, max_value=50))
    asks = [] if draw(st.booleans()) and bid > 0.9 else [(round(bid + 0.01, 2), depth)]
    down_bid = round(0.98 - bid, 2)
    down_asks = [(round(down_bid + 0.01, 2), depth)]
    return lambda ts: [
        book(ts, w.token_up, [(bid, depth)], asks),
        book(ts, w.token_down, [(down_bid, depth)], down_asks),
    ]


@st.composite
def signal_event(draw):
    w = draw(st.sampled_from(WINDOWS))
    usd = draw(st.sampled_from(["0.5", "1", "2", "3", "4.99", "5", "6", "49"]))
    side = draw(st.sampled_from(["UP", "DOWN"]))
    extra = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "stop_loss": st.sampled_from(["0.05", "0.15", "0.5"]),
                "take_profit": st.sampled_from(["0.1", "0.2"]),
                "trailing_stop": st.sampled_from(["0.1"]),
            },
        )
    )
    ident = draw(st.integers(0, 10**9))
    return lambda ts: signal(ts, w, side=side, usd=usd, signal_id=f"s{ident}", **extra)


@st.composite
def other_event(draw):
    kind = draw(st.sampled_from(["pause", "off", "flatten", "resolve"]))
    w = draw(st.sampled_from(WINDOWS))
    winner = "UP" if w.open_ts == OPEN else "DOWN"  # one venue answer per window
    if kind == "resolve":
        return lambda ts: resolved(max(ts, w.close_ts + 20_000), w, winner)
    return lambda ts: control(ts, "kill_switch", kind)


events = st.lists(
    st.tuples(times, st.one_of(book_event(), signal_event(), signal_event(), other_event())),
    min_size=5,
    max_size=60,
)


def _check_invariants(engine, before: dict) -> None:
    per_window = defaultdict(int)
    for order in engine.orders:
        assert order.client_order_id  # every order has an id
        if order.state in (OrderState.ACKED, OrderState.PARTIALLY_FILLED, OrderState.FILLED):
            assert order.venue_order_id
        if order.purpose is OrderPurpose.ENTRY:
            per_window[order.window_slug] += 1
            w = engine.market.windows[order.window_slug].window
            assert w.open_ts <= order.created_ts < w.close_ts - ENTRY_CUTOFF_MS
            assert order.requested_usd <= HARD_MAX_POSITION_USD
    assert all(n <= MAX_ORDERS_PER_WINDOW_PER_INSTRUMENT for n in per_window.values())
    for pos in engine.positions:
        assert pos.cost <= HARD_MAX_POSITION_USD
        prev = before.get(pos.position_id)
        if prev is not None and prev.state is PositionState.EXIT_PENDING:
            assert pos.state in AFTER_EXIT_PENDING
            assert pos.cost == prev.cost and pos.shares <= prev.shares
        before[pos.position_id] = pos


def _check_pnl(engine, fills: list[Fill]) -> None:
    by_position = defaultdict(lambda: [ZERO, ZERO, ZERO])  # bought value, sold value, fees
    for f in fills:
        order = engine.orders.get(f.client_order_id)
        sums = by_position[order.position_id]
        sums[0 if order.purpose is OrderPurpose.ENTRY else 1] += f.shares * f.price
        sums[2] += f.fee
    for pos in engine.positions:
        if pos.state is not PositionState.CLOSED:
            continue
        bought, sold, fees = by_position[pos.position_id]
        payout = pos.shares if pos.resolution is pos.outcome else ZERO
        assert pos.pnl_gross == sold + payout - bought
        assert pos.pnl_net == pos.pnl_gross - fees


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events)
def test_random_event_sequences_keep_the_envelope(sequence) -> None:
    engine = make_engine()
    for w in WINDOWS:
        engine.process(listed(w, OPEN - 200_000))
    before: dict = {}
    fills: list[Fill] = []
    for ts, make in sorted(sequence, key=lambda pair: pair[0]):
        made = make(ts)
        for event in made if isinstance(made, list) else [made]:
            engine.process(event)
        records = engine.take_records()
        fills.extend(r for r in records if isinstance(r, Fill))
        assert not [r for r in records if isinstance(r, BreakerRecord)]
        _check_invariants(engine, before)
    _check_pnl(engine, fills)
    if engine.cash is not None and engine.executor is not None:
        assert engine.cash == engine.executor.cash  # our ledger equals the simulated venue's
    assert Decimal(0) <= engine.entries.session_loss()
