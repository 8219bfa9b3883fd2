"""`vwap-contrarian` (spec: the oracle-VWAP idea): from T−`before_close` until close, compare the
oracle's average price over the last `lookback_s` seconds with the window's strike; when the
oracle says one side (average above the strike by more than `min_gap_bps` → UP, below → DOWN)
and the crowd prices that side at `0.5 − threshold` or less, buy it — against the crowd, with the
oracle. At most one entry per window; held to settlement.

The Chainlink stream carries no volume, so the "VWAP" weights each oracle price by the time it
stood (the time-weighted average over the look-back, from the last tick before it to now) — the
volume-free reading of the spec's VWAP. The crowd's price of a side is that side's book mid
(no entry until that book is two-sided). Reads only `WindowView` (data at or before now); the engine
calls it only from `close − before_close` on, never before the window opens, and derives the
order's worst price from the chosen side's own ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from live.kernel.domain import Outcome, Signal
from live.kernel.strategy import EntryTiming, Strategy, WindowView


class VwapContrarianParams(BaseModel):
    """The strategy's parameters: types, bounds and defaults (strategies.params)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback_s: int = Field(default=60, ge=5, le=600)
    threshold: float = Field(default=0.15, ge=0.02, le=0.45)
    min_gap_bps: float = Field(default=2.0, ge=0, le=500)
    usd: Decimal = Field(default=Decimal(1), ge=1, le=5)


def oracle_vwap(ticks: list[tuple[int, Decimal]], since: int, now: int) -> Decimal | None:
    """Time-weighted average of oracle prices over [since, now]: each price weighs the ms it
    stood (the first tick before `since` stands from `since`). None without ticks or time."""
    if not ticks or now <= since:
        return None
    total, weight = Decimal(0), 0
    for i, (ts, price) in enumerate(ticks):
        start = max(ts, since)
        end = ticks[i + 1][0] if i + 1 < len(ticks) else now
        end = min(max(end, start), now)
        if end > start:
            total += price * (end - start)
            weight += end - start
    if weight == 0:
        return ticks[-1][1]
    return total / weight


def crowd_price(view: WindowView, side: Outcome) -> float | None:
    """The crowd's price of `side`: the mid of that side's own book, None unless it is two-sided
    (the order is priced from that book's ask: never from the other side's)."""
    return view.mid(side)


@dataclass(frozen=True, slots=True)
class VwapContrarian(Strategy):
    """Oracle VWAP vs strike against the crowd's price (see the module docstring)."""

    param_model: ClassVar[type[BaseModel]] = VwapContrarianParams

    def settings(self) -> VwapContrarianParams:
        return VwapContrarianParams.model_validate(dict(self.params))

    def evaluate(self, view: WindowView) -> Signal | None:
        p = self.settings()
        strike = view.window.strike
        if strike is None or strike <= 0 or view.now < view.window.open_ts:
            return None
        since = view.now - p.lookback_s * 1000
        # the last tick before the look-back stands at its start: ask from a little earlier
        ticks = view.oracle_ticks(since - 60_000)
        vwap = oracle_vwap(ticks, since, view.now)
        if vwap is None:
            return None
        gap_bps = float((vwap - strike) / strike * 10_000)
        if abs(gap_bps) <= p.min_gap_bps:
            return None
        side = Outcome.UP if gap_bps > 0 else Outcome.DOWN
        price = crowd_price(view, side)
        if price is None or price > 0.5 - p.threshold:
            return None
        return view.signal(
            side,
            p.usd,
            confidence=Decimal(str(round(price, 4))),
            oracle_vwap=str(round(vwap, 2)),
            strike=str(strike),
            gap_bps=round(gap_bps, 2),
            crowd_price=round(price, 4),
            reason=f"oracle VWAP {gap_bps:+.1f} bps vs strike says {side}; crowd pays {price:.2f}",
        )


VWAP_CONTRARIAN = VwapContrarian(
    name="vwap-contrarian",
    aliases=("vwap",),
    timing=EntryTiming(before_close_ms=120_000, repeat=True),
    params={},
)
