"""A promoted strategy's pre-registered envelope, enforced at entry (issue 16, item 5).

The runner trades a promoted strategy only within the `risk` block and the `instruments` list of
the pre-registration its promotion is bound to; the runtime controls apply as well (the risk
envelope, live/kernel/risk.py), so the tighter of the two decides. What the runner would do
that the pre-registration does not allow is a denial with its own reason code:

- PREREG_INSTRUMENT: the window's (asset, length) is not in `instruments`;
- PREREG_EXITS: the strategy's stop-loss / take-profit differ from the pre-registered ones;
- PREREG_ENTRIES: the strategy already has `max_entries_per_window` entries on the window;
- PREREG_POSITION_CAP: the request is above `max_position_usd`;
- PREREG_SESSION_LOSS: the strategy's realised loss + its deployed capital + the request is
  above `max_session_loss_usd`.

Pure (no file, no clock): the runner builds `PreregLimits` from the file (live/promotion/).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from live.kernel.domain import Denial, DenyCode, RiskParams, Signal, Window

# The codes of `check`, in its order; checked after the risk envelope's RULES.
PREREG_CODES = (
    DenyCode.PREREG_INSTRUMENT,
    DenyCode.PREREG_EXITS,
    DenyCode.PREREG_ENTRIES,
    DenyCode.PREREG_POSITION_CAP,
    DenyCode.PREREG_SESSION_LOSS,
)
# The pre-registration's window classes, in seconds (Polymarket's 5- and 15-minute markets).
WINDOW_CLASSES = {"5m": 300, "15m": 900}


@dataclass(frozen=True, slots=True)
class PreregLimits:
    """`instruments`: allowed (asset, window length s); `stand_in_lengths`: window lengths that
    stand for every pre-registered class of an allowed asset (the sandbox's short test windows,
    never a Polymarket length); money in USD; `source`: the file the promotion is bound to."""

    instruments: frozenset[tuple[str, int]]
    max_position_usd: Decimal
    max_session_loss_usd: Decimal
    max_entries_per_window: int
    stop_loss: Decimal | None
    take_profit: Decimal | None
    source: str
    stand_in_lengths: frozenset[int] = frozenset()

    def instrument_allowed(self, window: Window) -> bool:
        asset = str(window.asset)
        if window.length_s in self.stand_in_lengths:
            return any(a == asset for a, _ in self.instruments)
        return (asset, window.length_s) in self.instruments


@dataclass(frozen=True, slots=True)
class StrategyBook:
    """What the strategy has now: entries on the signal's window, realised net loss (≥ 0) and
    capital deployed in its open positions and working entries, USD."""

    entries_on_window: int
    realised_loss_usd: Decimal
    deployed_usd: Decimal


def _deny(code: DenyCode, limits: PreregLimits, **detail: object) -> Denial:
    return Denial(code, {**detail, "preregistration": limits.source})


def check(
    limits: PreregLimits, signal: Signal, risk: RiskParams, window: Window, book: StrategyBook
) -> Denial | None:
    """The first pre-registration rule `signal` breaks (module docstring order), or None."""
    if not limits.instrument_allowed(window):
        return _deny(
            DenyCode.PREREG_INSTRUMENT,
            limits,
            asset=str(window.asset),
            window_s=window.length_s,
            allowed=sorted(f"{a}/{s}s" for a, s in limits.instruments),
        )
    if risk.stop_loss != limits.stop_loss or risk.take_profit != limits.take_profit:
        return _deny(
            DenyCode.PREREG_EXITS,
            limits,
            stop_loss=str(risk.stop_loss),
            take_profit=str(risk.take_profit),
            prereg_stop_loss=str(limits.stop_loss),
            prereg_take_profit=str(limits.take_profit),
        )
    if book.entries_on_window >= limits.max_entries_per_window:
        return _deny(
            DenyCode.PREREG_ENTRIES,
            limits,
            entries=book.entries_on_window,
            max_entries_per_window=limits.max_entries_per_window,
        )
    if signal.usd > limits.max_position_usd:
        return _deny(
            DenyCode.PREREG_POSITION_CAP,
            limits,
            usd=str(signal.usd),
            max_position_usd=str(limits.max_position_usd),
        )
    at_risk = book.realised_loss_usd + book.deployed_usd + signal.usd
    if at_risk > limits.max_session_loss_usd:
        return _deny(
            DenyCode.PREREG_SESSION_LOSS,
            limits,
            at_risk=f"{at_risk:.2f}",
            max_session_loss_usd=str(limits.max_session_loss_usd),
        )
    return None
