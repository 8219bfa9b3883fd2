"""Window tracking: the current and next window of each instrument discovered by slug on Gamma,
handed to the engine (`window` events; a re-listing with new token ids invalidates the old ones,
FM8) and kept in the `windows` table; markets that exist but cannot be traded are reported (FM7);
after the close the venue's resolution is polled until it is published (FM20)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg_pool import ConnectionPool

from live.kernel.domain import Window, WindowStatus
from live.kernel.events import Resolved, WindowListed
from live.runner.offloop import OffLoopWrites
from live.venues.discovery import Listing, NotTradable
from live.venues.port import Venue

# The windows table records the kernel's window lifecycle (live.kernel.domain.WindowStatus).
_STATUS = {s.name.lower(): str(s) for s in WindowStatus}

log = logging.getLogger(__name__)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class WindowTracker:
    def __init__(
        self,
        venue: Venue,
        venue_name: str,
        emit: Callable[[Any], None],
        pool: ConnectionPool,
        instruments: list[tuple[str, int]],
        now_ms: Callable[[], int],
        poll_s: float,
    ) -> None:
        self._venue = venue
        self._venue_name = venue_name
        self._emit = emit
        self._pool = pool
        self._instruments = instruments
        self._now_ms = now_ms
        self.poll_s = poll_s
        self.windows: dict[str, Window] = {}
        self.token_asset: dict[str, str] = {}
        self.resolved: dict[str, str] = {}
        self.not_tradable: dict[str, str] = {}
        # The market channel's tick per slug: `tick_size_change` is immediate, Gamma's
        # orderPriceMinTickSize lags behind it, so a later listing never reverts it.
        self.channel_ticks: dict[str, Decimal] = {}
        self.tick_changes = 0
        self.errors = 0
        self.last_error: str | None = None
        # Window rows and resolutions written off the event loop, in order, retried (issue 15).
        self.writes = OffLoopWrites("windows")

    def tokens(self) -> list[str]:
        """Token ids of windows not yet closed (what the market channel should carry)."""
        now = self._now_ms()
        return sorted(
            t
            for w in self.windows.values()
            if w.close_ts > now - 5_000
            for t in (w.token_up, w.token_down)
        )

    async def run(self) -> None:
        while True:
            try:
                await self.discover_once()
                await self.poll_resolutions()
            except Exception as exc:  # noqa: BLE001 - keep discovering; counted and shown
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("window discovery failed: %s", self.last_error)
            await asyncio.sleep(self.poll_s)

    def watch(self, window: Window) -> None:
        """Follow a window the engine adopted (issue 15): its tokens on the market channel while
        it is open, its resolution polled after the close, though discovery no longer lists it."""
        self.windows.setdefault(window.slug, window)
        self.token_asset[window.token_up] = str(window.asset)
        self.token_asset[window.token_down] = str(window.asset)

    async def discover_once(self) -> int:
        listed = 0
        for asset, length_s in self._instruments:
            for found in await self._venue.discover(asset, length_s, self._now_ms() / 1000):
                if isinstance(found, Listing):
                    listed += self._on_listing(found.window)
                elif isinstance(found, NotTradable):
                    self.not_tradable[found.slug] = found.reason
        return listed

    def on_tick_size(self, token_id: str, new_tick: Decimal, ts: int) -> bool:
        """A market-channel `tick_size_change` (to 0.001 near 0 and 1 and back; it applies to
        the whole market, both tokens): the window is re-listed to the engine at once with the
        new tick, so the next order is priced to it. True when a window's tick changed."""
        slug = next(
            (w.slug for w in self.windows.values() if token_id in (w.token_up, w.token_down)),
            None,
        )
        if slug is None:
            log.info("tick_size_change for unknown token %s ignored", token_id)
            return False
        self.channel_ticks[slug] = new_tick
        window = self.windows[slug]
        if window.tick_size == new_tick:
            return False
        log.info("window %s tick %s -> %s (market channel)", slug, window.tick_size, new_tick)
        window = dataclasses.replace(window, tick_size=new_tick)
        self.windows[slug] = window
        self.tick_changes += 1
        self._emit(WindowListed(max(ts, self._now_ms()), window))
        # Off the event loop, in order with the listing's own write: a synchronous write here
        # held the loop for the pool's 10 s during a database outage and its PoolTimeout ended
        # the market-feed task, stopping the runner (seen in `updown drill db-outage`).
        self.writes.submit(f"tick of {slug}", self._upsert, window)
        return True

    def _on_listing(self, window: Window) -> int:
        tick = self.channel_ticks.get(window.slug)
        if tick is not None and tick != window.tick_size:
            window = dataclasses.replace(window, tick_size=tick)
        known = self.windows.get(window.slug)
        if known == window:
            return 0
        if known is not None and (known.token_up, known.token_down) != (
            window.token_up,
            window.token_down,
        ):
            log.warning("window %s re-listed with new token ids (rotation, FM8)", window.slug)
        self.windows[window.slug] = window
        self.not_tradable.pop(window.slug, None)
        self.token_asset[window.token_up] = str(window.asset)
        self.token_asset[window.token_down] = str(window.asset)
        self._emit(WindowListed(self._now_ms(), window))
        self.writes.submit(f"window {window.slug}", self._upsert, window)
        return 1

    async def poll_resolutions(self) -> None:
        now = self._now_ms()
        for slug, window in list(self.windows.items()):
            if slug in self.resolved or window.close_ts > now:
                continue
            found = await self._venue.listing(slug, max_age_s=0)
            if isinstance(found, Listing) and found.winner is not None:
                self.resolved[slug] = str(found.winner)
                self._emit(Resolved(self._now_ms(), slug, found.winner))
                self.writes.submit(
                    f"resolution {slug}", self._mark_resolved, slug, str(found.winner)
                )

    def _upsert(self, w: Window) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                """INSERT INTO windows (slug, venue, asset, length_s, open_ts, close_ts,
                       condition_id, token_up, token_down, tick_size, min_size, fee_rate,
                       settlement_rule, strike, status)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (slug, venue) DO UPDATE SET condition_id = EXCLUDED.condition_id,
                       token_up = EXCLUDED.token_up, token_down = EXCLUDED.token_down,
                       tick_size = EXCLUDED.tick_size, strike = EXCLUDED.strike,
                       fee_rate = EXCLUDED.fee_rate""",
                (
                    w.slug,
                    self._venue_name,
                    str(w.asset),
                    w.length_s,
                    _dt(w.open_ts),
                    _dt(w.close_ts),
                    w.condition_id,
                    w.token_up,
                    w.token_down,
                    w.tick_size,
                    w.min_size,
                    w.fee_rate,
                    str(w.settlement_rule),
                    w.strike,
                    str(
                        WindowStatus.OPEN if w.open_ts <= self._now_ms() else WindowStatus.UPCOMING
                    ),
                ),
            )

    def update_statuses(self) -> None:
        """OPEN/CLOSED from the clock (RESOLVED is set when the venue publishes)."""
        now = _dt(self._now_ms())
        with self._pool.connection() as conn:
            conn.execute(
                """UPDATE windows SET status = CASE WHEN close_ts <= %(now)s THEN %(closed)s
                       ELSE %(open)s END
                   WHERE status IN (%(upcoming)s, %(open)s) AND open_ts <= %(now)s""",
                {"now": now, **_STATUS},
            )

    def _mark_resolved(self, slug: str, winner: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE windows SET status = %s, winner = %s WHERE slug = %s",
                (str(WindowStatus.RESOLVED), winner, slug),
            )
