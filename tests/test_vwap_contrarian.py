"""The VWAP-contrarian strategy: its average by hand, its entries through the real engine (the
February fixes on a strategy that is not the canary: no entry before a window opens, the IOC/FAK
worst price from the chosen side's own ask), and its typed parameters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_kit import CLOSE, OPEN, book, listed, make_engine, of_type, oracle, run, window

from live.kernel.domain import OrderSide, OrderType
from live.kernel.records import SignalRecord
from research.backtest import with_params
from strategies import get_strategy
from strategies.params import ParamError, check_params
from strategies.vwap_contrarian import VWAP_CONTRARIAN, oracle_vwap

W = window("BTC", strike="100000")
ENTRY = CLOSE - 100_000  # inside the T-120 s entry period


def test_oracle_vwap_weighs_each_price_by_the_time_it_stood():
    # 100 for 10 s then 110 for 10 s: (100*10 + 110*10) / 20 = 105
    ticks = [(0, Decimal(100)), (10_000, Decimal(110))]
    assert oracle_vwap(ticks, 0, 20_000) == Decimal(105)
    # a tick before the look-back stands from its start: 100 for 5 s, 120 for 5 s -> 110
    ticks = [(-5_000, Decimal(100)), (5_000, Decimal(120))]
    assert oracle_vwap(ticks, 0, 10_000) == Decimal(110)
    assert oracle_vwap([], 0, 10_000) is None


def _market(w, ts: int, up_bid: float, up_ask: float, down_bid: float, down_ask: float):
    return [
        book(ts, w.token_up, [(up_bid, 100)], [(up_ask, 100)]),
        book(ts, w.token_down, [(down_bid, 100)], [(down_ask, 100)]),
    ]


def _oracle_path(start: int, end: int, price: str) -> list:
    return [oracle(ts, price) for ts in range(start, end, 1000)]


def test_it_buys_the_oracles_side_against_the_crowd_with_its_own_worst_price():
    engine = make_engine([VWAP_CONTRARIAN])
    # the oracle sits 10 bps BELOW the strike (DOWN), the crowd prices Down at 0.285 (< 0.35)
    events = [listed(W), *_oracle_path(ENTRY - 70_000, ENTRY, "99900")]
    events += _market(W, ENTRY, 0.70, 0.72, 0.27, 0.30)
    run(engine, events)
    (order,) = list(engine.orders)
    assert order.token_id == W.token_down and order.side is OrderSide.BUY
    assert order.order_type in (OrderType.FAK, OrderType.FOK)
    # Down's own ask 0.30 + 2 ticks; Up's 0.72 would have given 0.74
    assert order.worst_price == Decimal("0.32")
    (sig,) = of_type(engine.records, SignalRecord)
    assert float(sig.inputs["gap_bps"]) == pytest.approx(-10.0)  # 99900 vs 100000


def test_no_entry_when_the_crowd_agrees_or_the_gap_is_small():
    engine = make_engine([VWAP_CONTRARIAN])
    events = [listed(W), *_oracle_path(ENTRY - 70_000, ENTRY, "99900")]
    events += _market(W, ENTRY, 0.27, 0.30, 0.70, 0.72)  # the crowd already favours Down
    run(engine, events)
    assert not list(engine.orders)
    small = window("BTC", open_ts=OPEN + 300_000, strike="100000")
    engine = make_engine([VWAP_CONTRARIAN])
    entry = small.close_ts - 100_000
    events = [listed(small), *_oracle_path(entry - 70_000, entry, "99990")]  # 1 bp: too small
    run(engine, events + _market(small, entry, 0.70, 0.72, 0.27, 0.30))
    assert not list(engine.orders)


def test_it_cannot_enter_a_window_before_it_opens():
    future = window("BTC", open_ts=OPEN + 3_600_000, strike="100000")
    engine = make_engine([VWAP_CONTRARIAN])
    # both windows listed; the future one's books and the oracle disagree long before it opens
    events = [listed(W), listed(future, OPEN), *_oracle_path(OPEN, ENTRY, "99900")]
    events += _market(future, OPEN + 1000, 0.70, 0.72, 0.27, 0.30)
    events += _market(future, ENTRY - 1000, 0.70, 0.72, 0.27, 0.30)
    events += _market(W, ENTRY, 0.70, 0.72, 0.27, 0.30)
    run(engine, events)
    assert {o.window_slug for o in engine.orders} == {W.slug}
    assert all(s.ts >= W.open_ts for s in of_type(engine.records, SignalRecord))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("vwap", {"lookbak_s": "5"}, "strategy vwap-contrarian: parameter lookbak_s: unknown"),
        ("vwap", {"lookback_s": "4"}, "parameter lookback_s: '4': Input should be greater"),
        ("vwap", {"threshold": "0.9"}, "rule: float >= 0.02 and <= 0.45, default 0.15"),
        ("canary", {"usd": "6"}, "strategy always-trade-canary: parameter usd"),
        ("canary", {"before_close_s": "0"}, "parameter before_close_s: 0 is out of range"),
        ("always-lose", {"nope": "1"}, "strategy always-lose: parameter nope: unknown"),
    ],
)
def test_unknown_or_out_of_range_params_are_one_line_errors(name, params, message):
    with pytest.raises(ParamError) as err:
        with_params(get_strategy(name), params)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_params_are_typed_with_their_defaults():
    typed = check_params(VWAP_CONTRARIAN, {"lookback_s": "30", "usd": "2"})
    assert typed == {"lookback_s": 30, "usd": Decimal(2)}
    tuned = with_params(VWAP_CONTRARIAN, {"threshold": "0.2", "before_close_s": "90"})
    assert tuned.settings().threshold == 0.2 and tuned.settings().lookback_s == 60
    assert tuned.timing.before_close_ms == 90_000
