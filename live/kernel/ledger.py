"""The ledger: our own cash book beside the venue's word on balance and holdings (checklist item 8,
assertions 4 and 5).

Ours is the expected balance: the starting cash, minus what entries cost, plus what exits and
settlements paid, fees included. In LIVE a resolution pays nothing by itself (Polymarket): what
resolved positions are owed is a receivable (receivables.py) until their redemption is confirmed,
then it is cash; cash + receivables + cost tied up in open positions = start + realised P&L. The
venue's is the simulated venue's own ledger in PAPER, DRY_RUN and BACKTEST (the executor), or in
LIVE the runner's last `balance` and `venue_positions` reports. A report taken before our last fill
or settlement (`book_changed_ts`) describes another instant and is not compared.
"""

from __future__ import annotations

from decimal import Decimal

from live.kernel.domain import Fill, Mode, OrderSide, Position, Window
from live.kernel.events import BalanceReport, OrderFill, Redeemed, VenuePositions
from live.kernel.executors import SimExecutor
from live.kernel.receivables import REDEEM_WITHIN_MS, Receivables
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
        self.venue_redeemable: dict[str, Decimal] = {}  # token → shares, of the same report
        self.book_changed_ts = 0  # when our positions or cash last changed
        # LIVE settles to cash by redemption (a simulated venue pays at resolution); the runner
        # turns this off for a venue that pays at resolution (the sandbox's `instant` profile).
        self.by_redemption = venue is None
        self.receivables = Receivables(mode, run_id, records)
        self.redeem_bound_ms = REDEEM_WITHIN_MS
        # The Data API's positions lag trades and redemptions by up to this (docs/venue.md):
        # a positions report taken sooner after our last change is not compared (assertion 4).
        self.data_lag_ms = 0

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

    def reverse_fill(self, side: OrderSide, fill: Fill, ts: int) -> None:
        """A fill the venue undid (trade FAILED): its cash effect reversed."""
        self.book_changed_ts = max(self.book_changed_ts, ts)
        if self.cash is not None:
            value = fill.shares * fill.price
            self.cash += value + fill.fee if side is OrderSide.BUY else -(value - fill.fee)

    def on_resolution(self, pos: Position, window: Window, payout: Decimal, ts: int) -> None:
        """The resolution of `pos` at `ts` earned it `payout` (its winning shares at $1): cash
        at once from a venue that pays at resolution, else a receivable until redeemed."""
        if self.by_redemption:
            self.receivables.add(pos, window, payout, ts)
        elif self.cash is not None:
            self.cash += payout

    def on_redeemed(self, ev: Redeemed) -> None:
        """A confirmed redemption of a window: what it was owed is cash now."""
        self.book_changed_ts = max(self.book_changed_ts, ev.ts)
        amount = self.receivables.redeem(ev)
        if self.cash is not None:
            self.cash += amount
        self.record_balances(ev.ts)

    @property
    def holdings_report_due_ts(self) -> int:
        """Positions reports taken before this describe another instant (or a lagging index)."""
        return self.book_changed_ts + self.data_lag_ms

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
        self.venue_redeemable = dict(report.redeemable)

    def record_balances(self, ts: int) -> None:
        """Balance records at `ts`: ours ('expected') and the simulated venue's ('engine')."""
        if self.cash is not None:
            self._record(ts, "expected", self.cash)
        if self.venue is not None:
            self._record(ts, "engine", self.venue.cash)
        if self.by_redemption:
            self._record(ts, "receivable", self.receivables.total)

    def _record(self, ts: int, source: str, usd: Decimal) -> None:
        self.records.append(BalanceRecord(ts, self.mode, self.run_id, source, usd))
