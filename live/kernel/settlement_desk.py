"""The settlement desk: a window's end, from its close to the venue's resolution (DESIGN §3).

At the close the window is CLOSED and positions still monitored expire (they are held to
settlement); a second later our own resolution is computed from the oracle (settlement.py); when the
venue's `resolved` arrives the window is RESOLVED, ours is recorded beside the venue's, the
simulated venue pays its winning shares, and every open position on the window is settled (CLOSED,
its P&L realised) into the ledger: as cash from a venue that pays at resolution, as a receivable
awaiting redemption on Polymarket (receivables.py). Breaker trips and alerts stay with the engine,
which reads the returned `Settled`.

It works with what it is handed, never with the engine: the market state, the position book, the
ledger and the records list.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from live.kernel.domain import ZERO, Agreement, Mode, PositionState, Resolution
from live.kernel.events import Resolved
from live.kernel.ledger import Ledger
from live.kernel.positions import PositionBook
from live.kernel.settlement import agreement, resolve_ours, settlement_record
from live.kernel.state import CLOSE, RESOLVE, MarketState, WindowState


class Settled(NamedTuple):
    """What a resolution did: whether positions were settled, our resolution and its agreement
    with the venue's."""

    positions: bool
    ours: Resolution
    agreement: Agreement


class SettlementDesk:
    """Closes, resolves and settles windows for one engine."""

    def __init__(
        self,
        *,
        mode: Mode,
        run_id: str,
        market: MarketState,
        positions: PositionBook,
        ledger: Ledger,
        records: list[Any],
    ) -> None:
        self.mode, self.run_id = mode, run_id
        self.market, self.positions, self.ledger = market, positions, ledger
        self.records = records

    def close(self, slug: str, now: int) -> None:
        """The window closed at `now`: monitored positions on it expire and wait for settlement."""
        self.market.windows[slug].advance(CLOSE)
        for pos in list(self.positions.open_positions()):
            if pos.window_slug == slug and pos.state is PositionState.MONITORING:
                self.positions.expire(pos.position_id, now, self._bid(pos.token_id))

    def _bid(self, token_id: str) -> Decimal | None:
        """The held token's best bid now (the time exit's audit), None without one."""
        book = self.market.books.get(token_id)
        best = None if book is None else book.best_bid
        return None if best is None else Decimal(repr(best))

    def resolve_ours(self, ws: WindowState) -> None:
        """Our resolution of the window from the oracle ticks seen so far (once)."""
        if ws.ours is None:
            ws.ours = resolve_ours(ws.window, self.market.tapes.get(ws.window.asset))

    def settle(self, ws: WindowState, resolved: Resolved) -> Settled:
        """Apply the venue's first resolution of `ws`: the window RESOLVED, the settlement
        recorded, the simulated venue paid, the open positions on it settled and their payout
        booked (balances recorded)."""
        self.resolve_ours(ws)
        ours = ws.ours
        assert ours is not None
        winner, ts = resolved.winner, resolved.ts
        ws.winner = winner
        ws.advance(RESOLVE)
        self.records.append(settlement_record(ws.window, ours, winner, ts, self.mode, self.run_id))
        if self.ledger.venue is not None:
            self.ledger.venue.on_resolved(ws.window, winner)
        settled = False
        for pos in list(self.positions.open_positions()):
            if pos.window_slug != resolved.slug:
                continue
            if pos.state in (PositionState.ENTRY, PositionState.MONITORING):
                pos = self.positions.expire(pos.position_id, ts)
            held = pos
            pos = self.positions.settle(pos.position_id, winner, ts)
            payout = held.shares if held.outcome is winner else ZERO
            self.ledger.on_resolution(held, ws.window, payout, ts)
            settled = True
        if settled:
            self.ledger.record_balances(ts)
        return Settled(settled, ours.resolution, agreement(ours.resolution, winner))
