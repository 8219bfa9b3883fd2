"""The drawdown breaker (spec: the safety module's daily drawdown limit; issue 16, item 2).

Session equity, USD = our cash + receivables (resolved, awaiting redemption) + every open
position's shares at the price we could exit at now (the held token's best bid; the last mark or
the entry price while its book has no bid). The guard keeps the session's peak equity; the
drawdown is peak − equity. At `drawdown_alert_fraction` × `max_drawdown_usd` it raises the
"large drawdown" alert once; at `max_drawdown_usd` it trips the circuit breaker (no new entries,
exits continue) in the same engine step as the event that moved the equity — so the entry after
the losing trade that reached the limit is already denied. An operator's breaker reset re-arms
the guard from the equity at that moment (a new peak).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from live.kernel.book import Book
from live.kernel.commands import Alert
from live.kernel.controls import Controls
from live.kernel.domain import ZERO
from live.kernel.ledger import Ledger
from live.kernel.positions import PositionBook

TRIP_PREFIX = "drawdown limit"


def session_equity(
    ledger: Ledger, positions: PositionBook, books: Mapping[str, Book]
) -> Decimal | None:
    """Equity in USD at exit prices (see the module docstring); None while our cash is unknown
    (LIVE before the first balance report)."""
    if ledger.cash is None:
        return None
    held = ZERO
    for p in positions.open_positions():
        book = books.get(p.token_id)
        bid = None if book is None else book.best_bid
        if bid is not None:
            price = Decimal(repr(bid))
        else:
            price = p.mark_price if p.mark_price is not None else (p.entry_price or ZERO)
        held += p.shares * price
    return ledger.cash + ledger.receivables.total + held


@dataclass
class DrawdownGuard:
    """Peak equity and what was already raised. `watch` is called after every engine step."""

    peak: Decimal | None = None
    warned: bool = False
    tripped: bool = False
    _last: tuple[Decimal, Decimal, bool] | None = None

    def rearm(self) -> None:
        """After a breaker reset: the next equity seen is the new peak."""
        self.peak, self.warned, self.tripped = None, False, False

    def watch(
        self,
        *,
        now: int,
        ledger: Ledger,
        positions: PositionBook,
        books: Mapping[str, Book],
        controls: Controls,
        trip: Callable[[str, dict[str, Any]], None],
        emit: Callable[[Alert], None],
    ) -> None:
        """Measure the equity and trip / alert as the module docstring says."""
        if ledger.cash is None:
            return
        holding = any(positions.by_token.values())
        key = (ledger.cash, ledger.receivables.total, holding)
        if key == self._last and not holding:
            return  # flat before and after, same cash: nothing that moves equity changed
        self._last = key
        equity = session_equity(ledger, positions, books)
        if equity is None:
            return
        if self.peak is None or equity > self.peak:
            self.peak = equity
        drawdown = self.peak - equity
        limit = controls.max_drawdown_usd
        warn_at = limit * controls.drawdown_alert_fraction
        inputs = {
            "peak_equity": str(self.peak),
            "equity": str(equity),
            "drawdown": str(drawdown),
            "max_drawdown_usd": str(limit),
            "alert_at": str(warn_at),
            "ts": now,
        }
        if drawdown >= limit and not self.tripped:
            self.tripped = self.warned = True
            trip(
                f"{TRIP_PREFIX}: drawdown {drawdown:.2f} USD from the session peak "
                f"{self.peak:.2f} reached max_drawdown_usd {limit}",
                inputs,
            )
            emit(Alert("drawdown", "critical", f"drawdown {drawdown:.2f} USD hit the limit"))
        elif drawdown >= warn_at and not self.warned:
            self.warned = True
            emit(
                Alert(
                    "drawdown",
                    "warning",
                    f"large drawdown: {drawdown:.2f} USD from the session peak {self.peak:.2f} "
                    f"(limit {limit}, alert at {warn_at:.2f})",
                )
            )
