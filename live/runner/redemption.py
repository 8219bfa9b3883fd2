"""LIVE: resolved positions to cash (issue 13). A resolution pays nothing on Polymarket: the engine
closes the position and books a receivable (live/kernel/receivables.py); this desk gets it paid
and tells the engine (`Redeemed`) once the redemption is confirmed:
- `redeem`: every window with receivables (winners and worthless losers: their redeemable rows
  go too) is redeemed through the SDK's `redeem_positions` (JSON-RPC for an EOA, the relayer for
  a gasless wallet), windows side by side (the venue adapter submits one transaction at a
  time, since an EOA's concurrent sends collide on the nonce; confirmations overlap), retried
  every `redeem_retry_s` after a failure (a
  redemption sent before the chain has the resolution reverts; the retry pays);
- `auto`: the venue's auto-redeem operator redeems winners for an account that approved it; the
  desk follows its AUTO_REDEEMED notifications (dropped once applied). A window owed nothing is
  done at once: the operator spends no gas on losers, whose rows stay redeemable.
- `at-resolution`: the venue pays at resolution (the sandbox's `instant` profile): no desk.
A window still awaiting its cash `redeem_bound_s` after its resolution is alerted once (and
assertion 5 fails past the same bound)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from live.kernel.engine import Engine
from live.kernel.events import Redeemed
from live.runner.alarms import RaiseAlert
from live.runner.config import Redemption
from live.venues.errors import VenueError
from live.venues.port import Venue

log = logging.getLogger(__name__)
POLL_S = 1.0


class RedemptionDesk:
    """Redeems (or follows the venue's auto-redeem of) the primary LIVE engine's receivables;
    `emit` puts `Redeemed` on the runner's event queue."""

    def __init__(
        self,
        venue: Venue,
        engine: Engine,
        how: Redemption,
        emit: Callable[[Any], None],
        now_ms: Callable[[], int],
        alert: RaiseAlert,
        *,
        retry_s: float,
        bound_s: float,
    ) -> None:
        self._venue, self._engine, self._how = venue, engine, how
        self._emit, self._now_ms, self._alert = emit, now_ms, alert
        self._retry_s, self._bound_ms = retry_s, int(bound_s * 1000)
        self.in_flight: set[str] = set()  # windows whose redemption is being sent or confirmed
        self.done: set[str] = set()  # windows whose `Redeemed` is on the queue
        self.attempts: dict[str, int] = {}
        self.failures = 0
        self.failed: dict[str, int] = {}  # window slug -> its failed attempts
        self.redeemed = 0
        self._late: set[str] = set()
        self._tasks: set[asyncio.Task] = set()

    def pending(self) -> dict[str, str]:
        """Window slug → condition id of the receivables not yet redeemed (nor on the queue), once
        every fill on the window is CONFIRMED."""
        out = {}
        orders = self._engine.orders
        for row in self._engine.ledger.receivables:
            if row.window_slug in self.done or orders.unsettled_on(row.window_slug):
                continue  # shares not yet on chain would be redeemed for nothing: wait
            out[row.window_slug] = row.condition_id
        return out

    async def run(self) -> None:
        if self._how is Redemption.AUTO:
            await self._check_approval()
        while True:
            pending = self.pending()
            if self._how is Redemption.REDEEM:
                for slug, condition_id in pending.items():
                    if slug not in self.in_flight:
                        self._start(slug, condition_id)
            elif self._how is Redemption.AUTO and pending:
                await self._follow_operator(pending)
            self._alert_late()
            await asyncio.sleep(POLL_S)

    def _start(self, slug: str, condition_id: str) -> None:
        self.in_flight.add(slug)
        task = asyncio.create_task(self._redeem(slug, condition_id), name=f"redeem {slug}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _redeem(self, slug: str, condition_id: str) -> None:
        """One window until its redemption is confirmed (retried every `retry_s`)."""
        try:
            while True:
                self.attempts[slug] = self.attempts.get(slug, 0) + 1
                try:
                    done = await self._venue.redeem(condition_id)
                except VenueError as error:
                    self.failures += 1
                    self.failed[slug] = self.failed.get(slug, 0) + 1
                    log.warning("redemption of %s failed (attempt %d): %s", slug,
                                self.attempts[slug], error)  # fmt: skip
                    if self.attempts[slug] == 1:
                        self._alert(
                            "redemption",
                            slug,
                            f"redemption failed: {error}",
                            f"retrying every {self._retry_s:g} s",
                        )
                    await asyncio.sleep(self._retry_s)
                    continue
                self._finish(slug, done.tx_hash, done.via, None, self.attempts[slug])
                return
        finally:
            self.in_flight.discard(slug)

    async def _follow_operator(self, pending: dict[str, str]) -> None:
        """Apply the operator's AUTO_REDEEMED notices to our pending windows; a window owed
        nothing is done without a transaction."""
        receivables = self._engine.ledger.receivables
        for slug in list(pending):
            if receivables.owed(slug) == 0:
                self._finish(slug, "", "none", None, 0)
                pending.pop(slug)
        if not pending:
            return
        try:
            notes = await self._venue.auto_redemptions()
        except VenueError as error:
            log.warning("auto-redeem notifications: %s", error)
            return
        by_condition = {cid: slug for slug, cid in pending.items()}
        applied = []
        for note in notes:
            slug = by_condition.get(note.condition_id)
            if slug is not None and slug not in self.done:
                self._finish(slug, note.tx_hash, "operator", note.paid, 1)
                applied.append(str(note.note_id))
        if applied:
            await self._venue.drop_notifications(applied)

    def _finish(self, slug: str, tx_hash: str, via: str, paid: Any, attempts: int) -> None:
        self.done.add(slug)
        self.redeemed += 1
        self._emit(Redeemed(self._now_ms(), slug, paid, tx_hash, via, attempts))

    def _alert_late(self) -> None:
        now = self._now_ms()
        for row in self._engine.ledger.receivables.overdue(now, self._bound_ms):
            if row.window_slug in self._late or row.window_slug in self.done:
                continue
            self._late.add(row.window_slug)
            self._alert(
                "redemption",
                row.window_slug,
                f"not redeemed {self._bound_ms / 1000:g} s after its resolution "
                f"(${row.expected_usd} awaiting, {self.attempts.get(row.window_slug, 0)} attempts)",
                "assertion 5 fails: no new entries; still redeeming",
            )

    async def _check_approval(self) -> None:
        try:
            approved = await self._venue.auto_redeem_approved()
        except VenueError as error:
            log.warning("auto-redeem approval state: %s", error)
            return
        if not approved:
            self._alert(
                "redemption",
                "account",
                "redemption=auto but the auto-redeem operator is not approved",
                "winning positions will wait; approve it (SDK setup_trading_approvals)",
            )

    def status(self) -> dict[str, Any]:
        """For /health and the demo: how the desk is doing."""
        receivables = self._engine.ledger.receivables
        return {
            "how": str(self._how),
            "awaiting_windows": len(receivables.windows),
            "awaiting_usd": str(receivables.total),
            "in_flight": sorted(self.in_flight),
            "redeemed_windows": self.redeemed,
            "failures": self.failures,
        }
