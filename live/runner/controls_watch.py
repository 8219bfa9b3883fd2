"""Runtime controls for the runner: read every tick through a ≤ 1 s cache and pushed at once by
LISTEN updown_controls on a dedicated connection. Anything unreadable or invalid fails closed:
the snapshot returned is the last good one with the kill switch forced to `pause`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from live.kernel.controls import Controls, InvalidControl, KillSwitch
from live.store import controls as control_store

log = logging.getLogger(__name__)
CACHE_S = 1.0
# A re-read that has not answered this long after it began fails closed meanwhile (its own pool
# timeout is 2 s; a saturated worker pool can delay it further).
STALE_S = 3.0


class ControlsWatcher:
    """Holds the current controls; `current()` is cheap and never raises."""

    def __init__(self, url: str, pool: ConnectionPool, clock: Callable[[], float]) -> None:
        self._url = url  # for the dedicated LISTEN connection
        self._pool = pool
        self._clock = clock
        self._snapshot = replace(Controls(), kill_switch=KillSwitch.PAUSE)
        self._read_at = float("-inf")
        self.error: str | None = "controls not read yet"
        self._listen_task: asyncio.Task | None = None
        self._reading: asyncio.Future | None = None
        self.on_change: Callable[[Controls], None] | None = None
        self.changes_seen = 0

    def current(self) -> Controls:
        """The snapshot, re-read when older than 1 s. Fails closed (PAUSE) on any error."""
        if self._clock() - self._read_at >= CACHE_S:
            self.refresh()
        return self._snapshot

    @property
    def snapshot(self) -> Controls:
        """The last snapshot read, without reading the database (safe on the event loop)."""
        return self._snapshot

    @property
    def failed_closed(self) -> bool:
        return self.error is not None

    def current_nowait(self) -> Controls:
        """The snapshot, for the runner's tick, which never waits on the database (issue 15: a
        tick held by an unreachable store tripped `tick_under_5s`, a sticky breaker, so trading
        never resumed after a database outage). When the snapshot is older than 1 s a re-read
        starts in a worker thread and is applied on the loop when it answers; an error fails
        closed (PAUSE), and so does a read still unanswered `STALE_S` after it began."""
        now = self._clock()
        if self._reading is None and now - self._read_at >= CACHE_S:
            self._read_at = now
            self._reading = asyncio.ensure_future(self._read_in_background())
        elif self._reading is not None and now - self._read_at >= STALE_S and self.error is None:
            self.error = f"controls read unanswered after {now - self._read_at:.1f} s"
            log.error("runtime controls unreadable, failing closed (PAUSE): %s", self.error)
            self._fail_closed()
        return self._snapshot

    async def _read_in_background(self) -> None:
        try:
            self._apply(*await asyncio.to_thread(self._read))
        finally:
            self._reading = None

    def _read(self) -> tuple[Controls | None, str | None]:
        try:
            with self._pool.connection(timeout=2) as conn:
                return control_store.read(conn), None
        except (psycopg.Error, PoolTimeout, InvalidControl, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def refresh(self) -> Controls:
        self._read_at = self._clock()
        return self._apply(*self._read())

    def _apply(self, fresh: Controls | None, error: str | None) -> Controls:
        if fresh is None:
            self.error = error
            log.error("runtime controls unreadable, failing closed (PAUSE): %s", self.error)
            self._fail_closed()
            return self._snapshot
        changed = fresh != self._snapshot or self.error is not None
        self.error = None
        self._snapshot = fresh
        if changed:
            self.changes_seen += 1
            if self.on_change is not None:
                self.on_change(fresh)
        return fresh

    async def refresh_async(self) -> Controls:
        """`refresh()` with the read in a worker thread (on the event loop, issue 15)."""
        self._read_at = self._clock()
        return self._apply(*await asyncio.to_thread(self._read))

    async def start(self) -> None:
        await self.refresh_async()
        self._listen_task = asyncio.create_task(self._listen(), name="controls-listen")

    async def stop(self) -> None:
        if self._listen_task:
            self._listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listen_task

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute("LISTEN updown_controls")
                    await self.refresh_async()  # nothing missed between connect and LISTEN
                    async for _ in conn.notifies():
                        await self.refresh_async()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep listening; refresh fails closed
                self.error = f"LISTEN connection failed: {exc}"
                self._fail_closed()
                await asyncio.sleep(1.0)

    def _fail_closed(self) -> None:
        """Stop entries; never relax a stricter switch (flatten/emergency keep running)."""
        if self._snapshot.kill_switch == KillSwitch.OFF:
            self._snapshot = replace(self._snapshot, kill_switch=KillSwitch.PAUSE)
