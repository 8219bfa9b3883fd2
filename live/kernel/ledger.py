"""The ledger: our own cash book beside the venue's word on balance and holdings (checklist item 8,
assertions 4 and 5).

Ours is the expected balance: the starting cash, minus what entries cost, plus what exits and
settlements paid, fees included. The venue's is the simulated venue's own ledger in PAPER,
DRY_RUN and BACKTEST (the executor), or in LIVE the runner's last `balance` and `venue_positions`
reports. A report taken before our last fill or settlement (`book_changed_ts`) describes another
instant and is not compared.
"""

from __future__ import annotations

from decimal import Decimal

from live.kernel.domain import Mode, OrderSide
from live.kernel.events import BalanceReport, OrderFill, VenuePositions
from live.kernel.executors import SimExecutor
from live.kernel.records import BalanceRecord


class Ledger:
    """Cash in USD (Decimal). `cash` is None in LIVE until the first balance report, which also
    sets `initial_cash` when no order was placed yet."""

    def __init__(
        self,
        mode: Mode,
        run_id: str,
        records: list[object],
        cash: Decimal | None,
        venue: SimExecutor | None,
    ) -> None:
        self.mode, self.run_id, self.records = mode, run_id, records
        self.cash = cash
        self.initial_cash = cash
        self.venue = venue  # the simulated venue, or None when the real one answers (LIVE)
        self.venue_balance: tuple[int, Decimal] | None = None  # (ts, USD) of the last report
        self.venue_positions: tuple[int, dict[str, Decimal]] | None = None  # (ts, token → shares)
        self.book_changed_ts = 0  # when our positions or cash last changed

    @property
    def venue_cash(self) -> Decimal | None:
        """The venue's balance: the simulated venue's ledger, or the last `balance` report."""
        if self.venue is not None:
            return self.venue.cash
        return None if self.venue_balance is None else self.venue_balance[1]

    def changed_at(self, ts: int) -> None:
        """Our positions or cash changed (or may have: a resolution arrived) at `ts`; venue
        reports taken before describe another instant."""
        self.book_changed_ts = ts

    def on_fill(self, side: OrderSide, fill: OrderFill, ts: int) -> None:
        """A BUY costs shares × price plus the fee; a SELL pays shares × price minus it."""
        self.book_changed_ts = ts
        if self.cash is not None:
            value = fill.shares * fill.price
            self.cash += -value - fill.fee if side is OrderSide.BUY else value - fill.fee

    def on_settlement(self, payout_usd: Decimal, ts: int) -> None:
        """A resolution settled positions that paid `payout_usd` in all (winning shares at $1);
        the balances are recorded at `ts`."""
        if self.cash is not None:
            self.cash += payout_usd
        self.record_balances(ts)

    def on_balance(self, report: BalanceReport, before_first_order: bool) -> None:
        """The venue's balance report; LIVE learns its starting cash from the one before its first
        order, and from then on our own ledger is the expected balance."""
        self.venue_balance = (report.ts, report.usd)
        if self.cash is None and before_first_order:
            self.cash = self.initial_cash = report.usd
            self._record(report.ts, "expected", report.usd)
        self._record(report.ts, "venue", report.usd)

    def on_venue_positions(self, report: VenuePositions) -> None:
        self.venue_positions = (report.ts, dict(report.positions))

    def record_balances(self, ts: int) -> None:
        """Balance records at `ts`: ours ('expected') and the simulated venue's ('engine')."""
        if self.cash is not None:
            self._record(ts, "expected", self.cash)
        if self.venue is not None:
            self._record(ts, "engine", self.venue.cash)

    def _record(self, ts: int, source: str, usd: Decimal) -> None:
        self.records.append(BalanceRecord(ts, self.mode, self.run_id, source, usd))
