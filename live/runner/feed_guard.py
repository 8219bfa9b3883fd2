"""Feed gaps and stale assets (FM1): the watchdog's verdicts acted on. A feed silent for 5 s
while subscribed opens a `feed_gaps` row, marks its asset stale in every engine (no entries
there), raises `feed_stale` and has its socket reconnected (the feed supervisor then re-reads the
books over REST). Data coming back closes the gap and lets entries resume at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from live.runner.alarms import RaiseAlert
from live.runner.offloop import OffLoopWrites
from live.runner.slots import EngineSlot
from live.runner.watchdog import FeedState, FeedWatchdog


def _wall(mono: float) -> datetime:
    """A monotonic instant as wall-clock time (for gap rows)."""
    return datetime.fromtimestamp(time.time() - (time.monotonic() - mono), tz=UTC)


class FeedGuard:
    """Owns the feed watchdog (`watchdog`, ticking on `clock`, monotonic seconds) and the set of
    assets whose feeds are stale."""

    def __init__(
        self,
        pool: ConnectionPool,
        instance_id: str,
        assets: tuple[str, ...],
        slots: list[EngineSlot],
        alert: RaiseAlert,
        idle_gap_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._instance_id = instance_id
        self._assets = assets
        self._slots = slots
        self._alert = alert
        self.watchdog = FeedWatchdog(clock, self.gap_opened, self.gap_closed, idle_gap_s)
        self.stale_assets: set[str] = set()
        self.gap_ids: dict[str, int] = {}
        self.writes = OffLoopWrites("feed gaps")

    def check(self, reconnect: Callable[[str], None]) -> None:
        """Every tick: each feed gone silent gets its channel reconnected and an alert."""
        for feed in self.watchdog.check():
            reconnect(feed.name.split(":")[0])
            self._alert(
                "feed_stale",
                feed.name,
                f"no data for {self.watchdog.idle_gap_s:.0f} s",
                "gap recorded, entries on this asset stopped, reconnecting with a fresh "
                "REST snapshot",
            )
        self.refresh_stale()

    def refresh_stale(self) -> None:
        """Tell the engines which assets have a stale feed (no entries there)."""
        watchdog = self.watchdog
        for asset in self._assets:
            names = [n for n in (f"market:{asset}", f"prices:{asset}") if n in watchdog.feeds]
            stale = not names or not all(watchdog.is_fresh(n) for n in names)
            if stale != (asset in self.stale_assets):
                (self.stale_assets.add if stale else self.stale_assets.discard)(asset)
                for slot in self._slots:
                    slot.engine.set_feed_stale(asset, stale)

    def gap_opened(self, feed: FeedState, start: float) -> None:
        """The watchdog's callback: record the gap (`start` on the monotonic clock). The row is
        written off the event loop (live/runner/offloop.py), in order with its closing."""
        self.writes.submit(f"gap of {feed.name}", self._insert_gap, feed.name, feed.asset, start)

    def _insert_gap(self, name: str, asset: str | None, start: float) -> None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO feed_gaps (feed, asset, start_ts, reason, instance_id) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (
                    name,
                    asset,
                    _wall(start),
                    f"no data for >= {self.watchdog.idle_gap_s:.0f} s while subscribed",
                    self._instance_id,
                ),
            ).fetchone()
        self.gap_ids[name] = row[0]

    def gap_closed(self, feed: FeedState, end: float) -> None:
        """The watchdog's callback: close the gap's row (off the loop, after its opening);
        entries resume now, not at the next tick."""
        self.writes.submit(f"end of the gap of {feed.name}", self._close_gap, feed.name, end)
        self.refresh_stale()

    def _close_gap(self, name: str, end: float) -> None:
        gap_id = self.gap_ids.get(name)
        if gap_id is not None:
            with self._pool.connection() as conn:
                conn.execute("UPDATE feed_gaps SET end_ts = %s WHERE id = %s", (_wall(end), gap_id))
            self.gap_ids.pop(name, None)
