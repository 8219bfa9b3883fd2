"""The one exit decision function (DESIGN §4, spec FM27).

Priority: emergency/flatten > stop-loss > trailing stop > take-profit > hold to expiry. Triggers
use the price we could actually exit at — the held token's best bid — compared exactly (Decimal)
against thresholds derived from the entry price, so a stop fires AT its threshold, not a tick
late. Thresholds are fractions of the entry price (stop 0.05 = exit at ≤ 95 % of entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from live.kernel.domain import ONE, ExitReason, RiskParams


@dataclass(frozen=True, slots=True)
class ExitDecision:
    reason: ExitReason
    trigger_price: Decimal | None  # the bid that triggered (None for flatten without a bid)
    threshold: Decimal | None = None


def stop_threshold(entry: Decimal, risk: RiskParams) -> Decimal | None:
    return None if risk.stop_loss is None else entry * (ONE - risk.stop_loss)


def take_profit_threshold(entry: Decimal, risk: RiskParams) -> Decimal | None:
    return None if risk.take_profit is None else entry * (ONE + risk.take_profit)


def trailing_threshold(peak: Decimal, risk: RiskParams) -> Decimal | None:
    return None if risk.trailing_stop is None else peak * (ONE - risk.trailing_stop)


def decide_exit(
    *,
    entry_price: Decimal,
    risk: RiskParams,
    bid: Decimal | None,
    peak_bid: Decimal,
    flatten: bool,
    now: int,
    close_ts: int,
) -> ExitDecision | None:
    """Whether a MONITORING position must leave, and why. `peak_bid` must already include `bid`
    (the trailing stop's high-water mark, starting at the entry price)."""
    if flatten:
        return ExitDecision(ExitReason.FLATTEN, bid)
    if bid is not None:
        stop = stop_threshold(entry_price, risk)
        if stop is not None and bid <= stop:
            return ExitDecision(ExitReason.STOP_LOSS, bid, stop)
        trail = trailing_threshold(peak_bid, risk)
        if trail is not None and bid <= trail:
            return ExitDecision(ExitReason.TRAILING_STOP, bid, trail)
        take = take_profit_threshold(entry_price, risk)
        if take is not None and bid >= take:
            return ExitDecision(ExitReason.TAKE_PROFIT, bid, take)
    if now >= close_ts:
        return ExitDecision(ExitReason.EXPIRY, bid)
    return None


def needs_bid(risk: RiskParams) -> bool:
    """Whether price-driven exits exist at all (else only flatten and expiry can fire)."""
    return (
        risk.stop_loss is not None
        or risk.take_profit is not None
        or (risk.trailing_stop is not None)
    )
