"""`always-lose`: a strategy built to lose, for the kill-criterion drill (issue 7, runner side).
At T−60 s before close it buys the side the CLOB does NOT favour (< $0.50) for the minimum
marketable amount ($1), no stop, held to settlement. The favoured side usually wins, so this
usually loses $1 a window, and its pre-registered kill criterion (two losses in a row,
`preregistrations/always-lose.yaml`) must stop it. Never promote it beyond the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from live.kernel.domain import Outcome, Signal
from live.kernel.strategy import Strategy, WindowView
from strategies.canary import AT_T_MINUS_60, MIN_MARKETABLE_USD, favoured_side


@dataclass(frozen=True, slots=True)
class AlwaysLose(Strategy):
    """Buy the unfavoured side once per window at T−60 s."""

    def evaluate(self, view: WindowView) -> Signal | None:
        favoured = favoured_side(view)
        if favoured is None:
            return None
        side, price = favoured
        other = Outcome.DOWN if side is Outcome.UP else Outcome.UP
        against = round(1.0 - price, 4)
        return view.signal(
            other,
            MIN_MARKETABLE_USD,
            confidence=Decimal(str(against)),
            clob_price=against,
            reason=f"CLOB favours {side} at {price:.2f}: buying {other} to lose",
        )


ALWAYS_LOSE = AlwaysLose(name="always-lose", timing=AT_T_MINUS_60)
