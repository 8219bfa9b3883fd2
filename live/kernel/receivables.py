"""Receivables: resolved positions whose cash has not arrived yet (issue 13).

On Polymarket a resolution pays nothing: a winning share is worth $1 only once it is redeemed (by
us through the SDK, or by the venue's auto-redeem operator), and resolved positions, winners and
losers, stay in the Data API as `redeemable` until then. A position is CLOSED when its resolution
is recorded (its P&L is realised); what it is owed ($1 a winning share, $0 a losing one) is a
receivable until a confirmed redemption of its window (`Redeemed`) moves it to cash. So at every
instant: cash + receivables + the cost still tied up in open positions = the ledger.

Simulated venues (PAPER, DRY_RUN, BACKTEST) pay at the resolution and have no receivables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from itertools import combinations

from live.kernel.domain import DUST_SHARES, ZERO, Mode, Position, Window
from live.kernel.events import Redeemed
from live.kernel.records import RedemptionRecord

PENDING, REDEEMED = "PENDING", "REDEEMED"
REDEEM_WITHIN_MS = 180_000  # a receivable older than this fails assertion 5 (configurable)
MAX_SUBSET_WINDOWS = 12  # assertion 5 tries every subset of pending windows up to this many


class Receivables:
    """What resolved positions are owed, per window, until their redemption is confirmed."""

    def __init__(self, mode: Mode, run_id: str | None, records: list[object]) -> None:
        self.mode, self.run_id, self.records = mode, run_id, records
        self.pending: dict[str, RedemptionRecord] = {}  # position id -> its PENDING row
        self.windows: dict[str, list[str]] = {}  # window slug -> pending position ids
        self.redeemed: dict[str, RedemptionRecord] = {}  # position id -> its REDEEMED row

    def __iter__(self) -> Iterator[RedemptionRecord]:
        return iter(self.pending.values())

    @property
    def total(self) -> Decimal:
        """USD owed by resolved positions not yet redeemed."""
        return sum((r.expected_usd for r in self.pending.values()), start=ZERO)

    def owed(self, window_slug: str) -> Decimal:
        return sum((self.pending[p].expected_usd for p in self.windows.get(window_slug, ())), ZERO)

    def add(self, pos: Position, window: Window, payout: Decimal, ts: int) -> bool:
        """The resolution of `pos` (its shares still held) recorded at `ts`: it is owed `payout`
        until redeemed. False (nothing recorded) when it holds no more than dust."""
        if pos.shares < DUST_SHARES:
            return False
        row = RedemptionRecord(
            position_id=pos.position_id,
            mode=self.mode,
            run_id=self.run_id,
            window_slug=pos.window_slug,
            condition_id=window.condition_id,
            token_id=pos.token_id,
            shares=pos.shares,
            won=payout > 0,
            expected_usd=payout,
            status=PENDING,
            resolved_ts=ts,
        )
        self.pending[pos.position_id] = row
        self.windows.setdefault(pos.window_slug, []).append(pos.position_id)
        self.records.append(row)
        return True

    def redeem(self, ev: Redeemed) -> Decimal:
        """The window's redemption was confirmed at `ev.ts`: its rows REDEEMED; returns the USD
        our ledger expected it to pay (0 when nothing of ours was pending there)."""
        amount = ZERO
        for pid in self.windows.pop(ev.window_slug, []):
            row = self.pending.pop(pid)
            done = replace(
                row,
                status=REDEEMED,
                redeemed_ts=ev.ts,
                via=ev.via or None,
                tx_hash=ev.tx_hash or None,
                attempts=ev.attempts,
                venue_paid_usd=ev.paid,
            )
            self.redeemed[pid] = done
            self.records.append(done)
            amount += row.expected_usd
        return amount

    def tokens(self) -> dict[str, Decimal]:
        """Token id -> shares of the positions awaiting redemption (what the venue should list
        as redeemable)."""
        out: dict[str, Decimal] = {}
        for row in self.pending.values():
            out[row.token_id] = out.get(row.token_id, ZERO) + row.shares
        return out

    def redeemed_tokens(self) -> frozenset[str]:
        return frozenset(r.token_id for r in self.redeemed.values())

    def overdue(self, now: int, bound_ms: int) -> list[RedemptionRecord]:
        """Pending rows resolved more than `bound_ms` ago."""
        return [r for r in self.pending.values() if now - r.resolved_ts > bound_ms]

    def landed(self, surplus: Decimal) -> tuple[str, ...] | None:
        """Which pending windows' payouts, landed at the venue before we saw the redemption
        confirmed, explain `surplus` (the venue's balance minus our cash) exactly: () when it
        is zero, None when no subset does (or there are too many windows to try)."""
        if surplus == ZERO:
            return ()
        owed = {slug: self.owed(slug) for slug in self.windows}
        owed = {slug: usd for slug, usd in owed.items() if usd > 0}
        if len(owed) > MAX_SUBSET_WINDOWS:
            return None
        slugs = sorted(owed)
        for size in range(1, len(slugs) + 1):
            for subset in combinations(slugs, size):
                if sum((owed[s] for s in subset), start=ZERO) == surplus:
                    return subset
        return None
