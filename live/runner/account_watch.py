"""LIVE: the venue's balance and positions (open and redeemable apart) as engine events, the
evidence for runtime assertions 4 and 5. A report is stamped with the time its query began, and only
sent when it describes one instant: no order of ours in flight and no window of ours settling at the
venue while it ran (the engine ignores reports older than its last fill or settlement)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from live.kernel.engine import Engine
from live.kernel.events import BalanceReport, VenuePositions
from live.runner.gateway import OrderGateway
from live.runner.windows import WindowTracker
from live.venues.port import Venue

log = logging.getLogger(__name__)


class AccountWatch:
    """Polls the venue every `poll_s` seconds for the primary `engine`; `emit` puts the reports
    on the runner's event queue."""

    def __init__(
        self,
        venue: Venue,
        engine: Engine,
        gateway: OrderGateway,
        windows: WindowTracker,
        now_ms: Callable[[], int],
        emit: Callable[[Any], None],
        poll_s: float,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self._venue = venue
        # Only the trader compares: an observer owns nothing the venue holds (issue 15: an
        # observer that took over learns its cash from the first report after adoption).
        self._active = active
        self._engine = engine
        self._gateway = gateway
        self._windows = windows
        self._now_ms = now_ms
        self._emit = emit
        self._poll_s = poll_s
        self._background: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Balance and positions every `poll_s`; a failed query sends no report (not "flat")."""
        while True:
            if not self._active():
                await asyncio.sleep(self._poll_s)
                continue
            try:
                began, quiet = self._now_ms(), self.quiet()
                usd = await self._venue.balance()
                held, redeemable = await self._venue.holdings()
                if quiet is not None and quiet == self.quiet():
                    self._emit(BalanceReport(began, Decimal(usd)))
                    self._emit(
                        VenuePositions(
                            began,
                            tuple(sorted(held.items())),
                            tuple(sorted(redeemable.items())),
                        )
                    )
            except Exception as exc:  # noqa: BLE001 - a failed query is not "flat": no report
                log.warning("account query failed: %s", exc)
            await asyncio.sleep(self._poll_s)

    def quiet(self) -> int | None:
        """None while the venue's view of us is moving (an order in flight, or a window we hold
        closed but not yet resolved for us); else a token that changes when an order starts."""
        if self._gateway.in_flight:
            return None
        now, tracker = self._now_ms(), self._windows
        for position in self._engine.positions:
            slug = position.window_slug
            window = tracker.windows.get(slug)
            if window is not None and window.close_ts <= now and slug not in tracker.resolved:
                return None
        return self._gateway.placements

    def after_settlement(self) -> None:
        """A settlement moved our balance: re-read it now, so assertion 5 compares fresh data."""
        task = asyncio.get_running_loop().create_task(self._fresh_balance())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _fresh_balance(self) -> None:
        try:
            await self._venue.refresh_balance()
            began, quiet = self._now_ms(), self.quiet()
            usd = Decimal(await self._venue.balance())
            if quiet is not None and quiet == self.quiet():
                self._emit(BalanceReport(began, usd))
        except Exception as exc:  # noqa: BLE001 - no report is better than a wrong one
            log.warning("balance refresh after settlement failed: %s", exc)
