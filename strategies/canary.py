"""`always-trade-canary` (spec Phase 1): at T−60 s before close buy the side the CLOB favours
(> $0.50) for the minimum marketable amount ($1), no stop, held to settlement, on every instrument.
The Phase 2 variants A–E are the same entry with the exit parameters of the spec's matrix."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from live.kernel.domain import Outcome, RiskParams, Signal
from live.kernel.limits import MIN_MARKETABLE_USD
from live.kernel.strategy import EntryTiming, Strategy, WindowView


def favoured_side(view: WindowView) -> tuple[Outcome, float] | None:
    """The side whose price is above 0.50, from the Up book's mid (else 1 − the Down book's mid).
    None when neither side is favoured or the books are empty."""
    up = view.mid(Outcome.UP)
    if up is None:
        down = view.mid(Outcome.DOWN)
        if down is None:
            return None
        up = 1.0 - down
    if up > 0.5:
        return Outcome.UP, up
    if up < 0.5:
        return Outcome.DOWN, 1.0 - up
    return None


class CanaryParams(BaseModel):
    """The canary's parameters (strategies.params): the stake and the Phase 2 variant label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: Decimal = Field(default=MIN_MARKETABLE_USD, ge=MIN_MARKETABLE_USD, le=5)
    variant: str | None = Field(default=None, pattern="^[a-e]$")


@dataclass(frozen=True, slots=True)
class Canary(Strategy):
    """Buy the favoured side once per window at T−60 s."""

    param_model: ClassVar[type[BaseModel]] = CanaryParams

    def evaluate(self, view: WindowView) -> Signal | None:
        favoured = favoured_side(view)
        if favoured is None:
            return None
        side, price = favoured
        return view.signal(
            side,
            Decimal(str(self.params.get("usd", MIN_MARKETABLE_USD))),
            confidence=Decimal(str(round(price, 4))),
            clob_price=round(price, 4),
            reason=f"CLOB favours {side} at {price:.2f}",
        )


AT_T_MINUS_60 = EntryTiming(before_close_ms=60_000)

CANARY = Canary(name="always-trade-canary", aliases=("canary",), timing=AT_T_MINUS_60)


# The variants' stops must be able to fire at the venue: an exit under $1 is refused, so a $1
# position could never be stopped out (risk rule EXIT_BELOW_MINIMUM). $3 keeps even variant E's
# 50 % stop above the minimum for entries up to ~0.95.
VARIANT_USD = "3"


def _variant(letter: str, **risk: str) -> Canary:
    params = RiskParams(**{k: Decimal(v) for k, v in risk.items()})
    return Canary(
        name=f"canary-exit-{letter}",
        timing=AT_T_MINUS_60,
        risk=params,
        params={"variant": letter, "usd": VARIANT_USD},
    )


# Spec Phase 2 stop-loss variation matrix, as parameter sets.
VARIANT_A = _variant("a", stop_loss="0.05")
VARIANT_B = _variant("b", stop_loss="0.15")
VARIANT_C = _variant("c", stop_loss="0.05", take_profit="0.20")
VARIANT_D = _variant("d", trailing_stop="0.10")
VARIANT_E = _variant("e", stop_loss="0.50")
