"""The store's health as a trading rule (issue 15, database faults): while the database cannot
take the engines' records (a write failed: the server is down, refuses connections, or a query
timed out), no new entries — the breaker trips with STORE_TRIP and `breaker_tripped` is raised;
exits keep working, their records wait in memory (never dropped) and are journalled when the
store is back. Once every engine writes again, a LIVE trader reconciles with the venue before the
trip is lifted (a failed reconciliation leaves it an observer, as at start). The pool's
utilisation above 80 % raises `db_pool_high` (once per episode)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from psycopg_pool import ConnectionPool

from live.runner.alarms import RaiseAlert
from live.runner.slots import EngineSlot, lift, trip

log = logging.getLogger(__name__)
STORE_TRIP = "store unreachable: engine records cannot be written"
POOL_HIGH = 0.8


class StoreGuard:
    def __init__(
        self,
        slots: list[EngineSlot],
        pool: ConnectionPool,
        alert: RaiseAlert,
        reconcile: Callable[[], Awaitable[bool]],
        now_ms: Callable[[], int],
        where: str,
    ) -> None:
        self._slots, self._pool, self._alert = slots, pool, alert
        self._reconcile, self._now_ms, self._where = reconcile, now_ms, where
        self.down = False
        self.outages = 0
        self.pool_high = False
        self._timeouts: dict[str, int] = {}

    async def check(self) -> None:
        failing = [s for s in self._slots if s.persist.failing]
        for slot in self._slots:
            if slot.persist.timeouts > self._timeouts.get(slot.name, 0):
                self._timeouts[slot.name] = slot.persist.timeouts
                self._alert(
                    "query_timeout",
                    f"{self._where}:{slot.name} records",
                    f"a write of run {slot.engine.run_id} hit the statement timeout: "
                    f"{slot.persist.last_error}",
                    "records kept in memory and retried; no new entries until they are written",
                    pending=slot.persist.pending,
                )
        if failing and not self.down:
            self.down = True
            self.outages += 1
            error = failing[0].persist.last_error or "write failed"
            trip(self._slots, STORE_TRIP)
            self._alert(
                "breaker_tripped",
                self._where,
                f"the database does not take our records: {error}",
                "no new entries; exits continue and are journalled when it is back",
                pending=sum(s.persist.pending for s in self._slots),
            )
        elif not failing and self.down:
            if not await self._reconcile():
                return  # an observer now (the reconciliation said why); the trip stays
            self.down = False
            ts = self._now_ms()
            for slot in self._slots:
                lift(slot, STORE_TRIP, ts, "store reachable again, venue reconciled")
            log.info("store reachable again: entries resume")
        self._check_pool()

    def _check_pool(self) -> None:
        stats = self._pool.get_stats()
        size = max(stats.get("pool_size", 0), 1)
        busy = size - stats.get("pool_available", 0)
        utilisation = busy / self._pool.max_size
        if utilisation > POOL_HIGH and not self.pool_high:
            self.pool_high = True
            self._alert(
                "db_pool_high",
                self._where,
                f"database pool {utilisation:.0%} in use ({busy} of {self._pool.max_size})",
                "watching; exhaustion fails closed (queries time out, entries stop)",
                waiting=stats.get("requests_waiting", 0),
            )
        elif utilisation <= POOL_HIGH:
            self.pool_high = False
