"""The strategy registry and the canary's behaviour."""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_kit import CLOSE, OPEN, listed, make_engine, of_type, run, two_sided, window

from live.kernel.domain import Outcome
from live.kernel.records import DecisionRecord
from strategies import UnknownStrategy, discover, get_strategy, resolve

W = window()


def test_every_module_in_strategies_is_registered_by_name_and_alias() -> None:
    registry = discover()
    assert registry["canary"] is registry["always-trade-canary"]
    assert {"scripted", *(f"canary-exit-{v}" for v in "abcde")} <= set(registry)
    assert get_strategy("canary-exit-c").risk.take_profit == Decimal("0.20")
    with pytest.raises(UnknownStrategy, match="registered"):
        get_strategy("nope")
    assert [s.name for s in resolve("canary,always-trade-canary")] == ["always-trade-canary"]


def test_canary_buys_the_favoured_side_for_one_dollar_at_t_minus_60s() -> None:
    engine = make_engine("canary")
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.44, 0.46)])
    assert not list(engine.orders)
    run(engine, [*two_sided(CLOSE - 60_000, W, 0.44, 0.46)])
    (order,) = list(engine.orders)
    assert order.outcome is Outcome.DOWN and order.requested_usd == Decimal("1")
    assert order.created_ts == CLOSE - 60_000
    audit = of_type(engine.records, DecisionRecord)[0].audit
    assert audit.startswith("entered because: CLOB was $0.56")
    assert "risk check passed with $100.00 balance, order placed at" in audit


def test_canary_skips_a_coin_flip_book() -> None:
    engine = make_engine("canary")
    run(engine, [listed(W), *two_sided(CLOSE - 60_000, W, 0.49, 0.51)])
    assert not list(engine.orders)
