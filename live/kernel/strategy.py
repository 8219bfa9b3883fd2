"""The strategy interface (DESIGN §4); the registry of the modules in `strategies/` is that
package's own `__init__`.

A strategy is a frozen object declaring its name, aliases, instrument scope, entry timing and
risk parameters, with `evaluate(view) -> Signal | None`. The engine calls `evaluate` only when the
timing is due, with a read-only `WindowView` that holds data with timestamp ≤ now and no
resolution fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from live.kernel.book import Book
from live.kernel.domain import Asset, Outcome, RiskParams, Signal, Window
from live.kernel.events import SignalLine
from live.kernel.settlement import OracleTape


@dataclass(frozen=True, slots=True)
class Scope:
    """Which instruments a strategy trades; None means all."""

    assets: frozenset[Asset] | None = None
    lengths_s: frozenset[int] | None = None

    def covers(self, window: Window) -> bool:
        return (self.assets is None or window.asset in self.assets) and (
            self.lengths_s is None or window.length_s in self.lengths_s
        )


@dataclass(frozen=True, slots=True)
class EntryTiming:
    """When `evaluate` is called for a window: first at `close_ts - before_close_ms` (or, when
    None, at open), then — if `repeat` — on every book change of the window's tokens until it
    returns a signal. An offset longer than half the window is clamped to half (so a T−60 s
    entry still happens on the 20–60 s windows the sandbox uses in tests; 5m/15m are unchanged).
    `on_signal_lines` strategies are called for each journal `signal` line."""

    before_close_ms: int | None = None
    repeat: bool = False
    on_signal_lines: bool = False

    def first_due(self, window: Window) -> int:
        """When `evaluate` is first called for `window`, epoch ms: close − the offset (clamped to
        half the window), or the open when there is no offset."""
        offset = self.before_close_ms
        if offset is None:
            return window.open_ts
        return window.close_ts - min(offset, (window.close_ts - window.open_ts) // 2)


class LookAheadError(RuntimeError):
    """A strategy asked for data later than `now` (FM12), or tried to change its view."""


class WindowView:
    """The read-only view of one window a strategy evaluates: data with ts ≤ now only. Its
    attributes cannot be reassigned (moving `now` forward would be a way to peek), and the oracle
    history is reachable only through `oracle_ticks`, which raises LookAheadError past `now`."""

    __slots__ = (
        "now",
        "window",
        "_up",
        "_down",
        "oracle_price",
        "signal_line",
        "_strategy",
        "_tape",
    )

    def __init__(
        self,
        now: int,
        window: Window,
        up: Book | None,
        down: Book | None,
        oracle_price: Decimal | None,
        strategy: Strategy,
        signal_line: SignalLine | None = None,
        oracle_tape: OracleTape | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "now", now)
        init(self, "window", window)
        init(self, "_up", up)
        init(self, "_down", down)
        init(self, "oracle_price", oracle_price)
        init(self, "_strategy", strategy)
        init(self, "signal_line", signal_line)
        init(self, "_tape", oracle_tape)

    def __setattr__(self, name: str, value: Any) -> None:
        raise LookAheadError(f"WindowView is read-only: cannot set {name!r}")

    def oracle_ticks(self, since: int, until: int | None = None) -> list[tuple[int, Decimal]]:
        """Oracle ticks of the window's asset with since ≤ ts ≤ until (default: now). Asking for
        anything after `now` raises LookAheadError: the future does not exist here."""
        until = self.now if until is None else until
        if until > self.now:
            raise LookAheadError(
                f"look-ahead: oracle data up to {until} requested at now={self.now} "
                f"({until - self.now} ms in the future) for {self.window.slug}"
            )
        return [] if self._tape is None else self._tape.between(since, until + 1)

    def _book(self, outcome: Outcome) -> Book | None:
        return self._up if outcome is Outcome.UP else self._down

    def best_ask(self, outcome: Outcome) -> float | None:
        book = self._book(outcome)
        return None if book is None else book.best_ask

    def best_bid(self, outcome: Outcome) -> float | None:
        book = self._book(outcome)
        return None if book is None else book.best_bid

    def mid(self, outcome: Outcome) -> float | None:
        book = self._book(outcome)
        return None if book is None else book.mid

    def levels(self, outcome: Outcome, side: str) -> list[tuple[float, float]]:
        book = self._book(outcome)
        return [] if book is None else book.levels(side)

    @property
    def ms_to_close(self) -> int:
        return self.window.close_ts - self.now

    def signal(
        self,
        side: Outcome,
        usd: Decimal,
        *,
        max_price: Decimal | None = None,
        confidence: Decimal | None = None,
        risk: RiskParams | None = None,
        signal_id: str | None = None,
        **inputs: Any,
    ) -> Signal:
        """Build this strategy's Signal for this window at now; risk defaults to the strategy's."""
        name = self._strategy.name
        return Signal(
            signal_id=signal_id or f"{name}:{self.window.slug}:{self.now}",
            ts=self.now,
            strategy=name,
            window_slug=self.window.slug,
            asset=self.window.asset,
            side=side,
            usd=usd,
            max_price=max_price,
            confidence=confidence,
            risk=self._strategy.risk if risk is None else risk,
            inputs=inputs,
        )


@dataclass(frozen=True, slots=True)
class Strategy:
    """Base class: subclass, set the declarations, implement `evaluate`."""

    name: str
    aliases: tuple[str, ...] = ()
    scope: Scope = Scope()
    timing: EntryTiming = EntryTiming()
    risk: RiskParams = RiskParams()
    params: Mapping[str, Any] = field(default_factory=dict)

    def evaluate(self, view: WindowView) -> Signal | None:  # pragma: no cover - interface
        raise NotImplementedError


Evaluate = Callable[[WindowView], Signal | None]
