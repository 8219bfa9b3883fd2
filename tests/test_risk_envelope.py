"""The risk envelope: one named test per DenyCode, the check order, the one worst-price function."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from engine_kit import OPEN, window

from live.kernel.controls import Controls, KillSwitch
from live.kernel.domain import (
    Asset,
    DenyCode,
    Mode,
    OrderSide,
    Outcome,
    RiskParams,
    Signal,
    TradingState,
)
from live.kernel.prereg_limits import PREREG_CODES
from live.kernel.risk import RULES, RiskContext, evaluate, worst_price

W = window()


def sig(usd: str = "1", side: Outcome = Outcome.UP, **kw) -> Signal:
    return Signal(
        signal_id=kw.pop("signal_id", "s1"),
        ts=OPEN + 10_000,
        strategy=kw.pop("strategy", "canary"),
        window_slug=W.slug,
        asset=Asset.BTC,
        side=side,
        usd=Decimal(usd),
        risk=RiskParams(),
        **kw,
    )


def ctx(**kw) -> RiskContext:
    base = RiskContext(
        now=OPEN + 10_000,
        mode=Mode.PAPER,
        strategy_aliases=(),
        trading_state=TradingState.ACTIVE,
        controls=Controls(),
        promoted=False,
        window=W,
        entry_orders_in_window=0,
        position_exposure_usd=Decimal(0),
        session_loss_usd=Decimal(0),
        deployed_usd=Decimal(0),
        instrument_exposure_usd=Decimal(0),
        balance_usd=Decimal("68"),
        unknown_order_on_window=False,
        token_id=W.token_up,
        token_valid=True,
        best_ask=0.54,
        signal_seen=False,
        entry_pending=False,
    )
    return replace(base, **kw)


def code(signal: Signal, context: RiskContext) -> DenyCode | None:
    verdict = evaluate(signal, context)
    return None if verdict.denial is None else verdict.denial.code


def test_clean_signal_is_approved_with_worst_price_from_the_ask() -> None:
    verdict = evaluate(sig(), ctx())
    assert verdict.approved
    assert verdict.worst_price == Decimal("0.56")


def test_rules_run_in_the_documented_order() -> None:
    # then the pre-registration's rules (live/kernel/prereg_limits.py), in the entry desk
    assert [c for c, _ in RULES] + list(PREREG_CODES) == list(DenyCode)


def test_paused_trading_state_denies_entries() -> None:
    assert code(sig(), ctx(trading_state=TradingState.PAUSED)) is DenyCode.TRADING_STATE


def test_engine_mode_differing_from_trading_mode_control_is_denied() -> None:
    assert code(sig(), ctx(mode=Mode.LIVE)) is DenyCode.MODE
    assert code(sig(), ctx(mode=Mode.BACKTEST)) is None


def test_strategy_not_in_allowed_strategies_is_denied() -> None:
    assert code(sig(strategy="vwap"), ctx()) is DenyCode.STRATEGY_NOT_ALLOWED
    allowed_by_alias = ctx(strategy_aliases=("canary",))
    assert code(sig(strategy="always-trade-canary"), allowed_by_alias) is None


def test_instrument_not_in_allowed_instruments_is_denied() -> None:
    controls = Controls().with_value("allowed_instruments", "ETH,XRP")
    assert code(sig(), ctx(controls=controls)) is DenyCode.INSTRUMENT_NOT_ALLOWED


def test_live_without_promotion_is_denied() -> None:
    live = Controls().with_value("trading_mode", "LIVE")
    assert code(sig(), ctx(mode=Mode.LIVE, controls=live)) is DenyCode.NOT_PROMOTED
    assert code(sig(), ctx(mode=Mode.LIVE, controls=live, promoted=True)) is None


@pytest.mark.parametrize(
    "now", [OPEN - 1, OPEN - 3_600_000, W.close_ts - 5_000, W.close_ts, W.close_ts + 1]
)
def test_entry_outside_the_window_entry_period_is_denied(now: int) -> None:
    assert code(sig(), ctx(now=now)) is DenyCode.WINDOW_NOT_OPEN


def test_entry_on_unknown_window_is_denied() -> None:
    assert code(sig(), ctx(window=None)) is DenyCode.WINDOW_NOT_OPEN


def test_third_order_in_window_is_denied() -> None:
    assert code(sig(), ctx(entry_orders_in_window=1)) is None
    assert code(sig(), ctx(entry_orders_in_window=2)) is DenyCode.ORDERS_PER_WINDOW


def test_oversized_request_is_denied_not_resized() -> None:
    verdict = evaluate(sig("12"), ctx())
    assert verdict.denial is not None and verdict.denial.code is DenyCode.POSITION_CAP
    assert verdict.denial.detail["requested_usd"] == "12.00"
    assert verdict.denial.detail["cap_usd"] == "5.00"
    assert verdict.worst_price is None


def test_position_cap_counts_the_existing_position_and_the_control() -> None:
    assert code(sig("2"), ctx(position_exposure_usd=Decimal("4"))) is DenyCode.POSITION_CAP
    tight = Controls().with_value("max_position_usd", "1")
    assert code(sig("2"), ctx(controls=tight)) is DenyCode.POSITION_CAP


def test_session_loss_plus_deployed_capital_over_the_limit_is_denied() -> None:
    context = ctx(session_loss_usd=Decimal("17"), deployed_usd=Decimal("2.5"))
    assert code(sig("1"), context) is DenyCode.SESSION_LOSS


def test_instrument_exposure_over_its_cap_is_denied() -> None:
    assert code(sig("1"), ctx(instrument_exposure_usd=Decimal("9.5"))) is DenyCode.INSTRUMENT_CAP


def test_balance_below_amount_plus_fee_is_denied() -> None:
    assert code(sig("5"), ctx(balance_usd=Decimal("5"))) is DenyCode.INSUFFICIENT_BALANCE
    assert code(sig("1"), ctx(balance_usd=None)) is DenyCode.INSUFFICIENT_BALANCE


def test_unknown_order_on_window_blocks_reentry() -> None:
    assert code(sig(), ctx(unknown_order_on_window=True)) is DenyCode.UNKNOWN_ORDER_BLOCK


def test_token_not_valid_for_window_is_denied() -> None:
    assert code(sig(), ctx(token_valid=False)) is DenyCode.TOKEN_INVALID
    assert code(sig(), ctx(token_id="")) is DenyCode.TOKEN_INVALID


def test_missing_ask_or_limit_below_ask_is_price_invalid() -> None:
    assert code(sig(), ctx(best_ask=None)) is DenyCode.PRICE_INVALID
    assert code(sig(max_price=Decimal("0.50")), ctx(best_ask=0.54)) is DenyCode.PRICE_INVALID


def test_repeated_signal_id_or_pending_entry_is_duplicate() -> None:
    assert code(sig(), ctx(signal_seen=True)) is DenyCode.DUPLICATE_SIGNAL
    assert code(sig(), ctx(entry_pending=True)) is DenyCode.DUPLICATE_SIGNAL


def test_first_failing_rule_decides() -> None:
    both = ctx(trading_state=TradingState.PAUSED, entry_orders_in_window=5)
    assert code(sig("50"), both) is DenyCode.TRADING_STATE


def test_kill_switch_enum_values_match_controls() -> None:
    assert {str(k) for k in KillSwitch} == {"off", "pause", "flatten", "emergency"}


# ------------------------------------------------------------------ worst price


def test_buy_worst_price_is_ask_plus_two_ticks_capped_below_one() -> None:
    tick = Decimal("0.01")
    assert worst_price(OrderSide.BUY, 0.54, tick) == Decimal("0.56")
    assert worst_price(OrderSide.BUY, 0.98, tick) == Decimal("0.99")
    assert worst_price(OrderSide.BUY, 0.99, tick) == Decimal("0.99")
    assert worst_price(OrderSide.BUY, 0.54, tick, Decimal("0.55")) == Decimal("0.55")
    assert worst_price(OrderSide.BUY, None, tick) is None


def test_sell_worst_price_is_bid_minus_two_ticks_above_zero() -> None:
    tick = Decimal("0.01")
    assert worst_price(OrderSide.SELL, 0.47, tick) == Decimal("0.45")
    assert worst_price(OrderSide.SELL, 0.01, tick) == Decimal("0.01")
    fine = Decimal("0.001")
    assert worst_price(OrderSide.SELL, 0.035, fine) == Decimal("0.033")


def test_entry_on_an_asset_with_a_stale_feed_is_denied() -> None:
    denial = evaluate(sig(), ctx(feed_stale=True)).denial
    assert denial.code is DenyCode.INSTRUMENT_NOT_ALLOWED
    assert denial.detail["reason"] == "feed_stale"


def test_stop_that_could_never_fire_at_the_venue_is_denied_at_entry() -> None:
    """$1 at 0.54 with a 10 % stop: the exit at the stop (~1.85 shares × 0.466) is under the
    venue's $1 marketable minimum, so the stop could never execute (a dead stop-loss)."""
    small = replace(sig(usd="1"), risk=RiskParams(stop_loss=Decimal("0.1")))
    denial = evaluate(small, ctx()).denial
    assert denial.code is DenyCode.EXIT_BELOW_MINIMUM
    assert Decimal(denial.detail["exit_usd_at_stop"]) < 1
    big_enough = replace(sig(usd="3"), risk=RiskParams(stop_loss=Decimal("0.1")))
    assert evaluate(big_enough, ctx()).approved
    trailing = replace(sig(usd="1"), risk=RiskParams(trailing_stop=Decimal("0.2")))
    assert evaluate(trailing, ctx()).denial.code is DenyCode.EXIT_BELOW_MINIMUM
    no_stop = sig(usd="1")  # held to settlement: nothing to execute at a stop
    assert evaluate(no_stop, ctx()).approved
