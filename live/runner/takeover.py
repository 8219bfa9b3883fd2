"""The sole-trader lock, watched off the event loop, and the takeover (issue 15).

`LockWatch.run` is one runner task. While this instance holds the lock it checks it every tick
(at most 0.5 s apart) in a worker thread — a hung database server never freezes the loop — and a
lost lock makes it an observer at once (TraderRole). While it is an observer only because another
instance held the lock, it retries the lock every `takeover_s` (≤ 2 s); once it has it, it adopts
what the database says the trader owned, answers its orders from the venue, reconciles, and only
then stops being an observer (`take_over`). The gateway asks `verify` right before each order, so
an instance whose lock connection died never sends one more order: together with the takeover
order (lock first, orders only after reconciliation) no two instances order at the same instant.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from live.runner.role import LOCK_HELD_ELSEWHERE
from live.runner.slots import EngineSlot, lift

log = logging.getLogger(__name__)
OBSERVER_TRIP = f"observer: {LOCK_HELD_ELSEWHERE}"
# `runner` below is a live.runner.runner.Runner (typed Any: the runner imports this module).


class LockWatch:
    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self.attempts = 0
        self.last_error: str | None = None
        self.took_over_at: int | None = None

    async def run(self) -> None:
        r = self._runner
        period = min(r.config.tick_ms / 1000, 0.5)
        while True:
            lock, role = r.lock, r.role
            if lock.held:
                status = await asyncio.to_thread(lock.check)
                role.on_lock_status(True, status)
            elif role.waiting_for_lock and r.config.takeover_s > 0 and not r.stopping.is_set():
                if await self._try():
                    await take_over(r)
                    self.took_over_at = r.now_ms()
                await asyncio.sleep(r.config.takeover_s)
                continue
            await asyncio.sleep(period)

    async def _try(self) -> bool:
        self.attempts += 1
        try:
            return await asyncio.to_thread(self._runner.lock.acquire)
        except psycopg.Error as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("sole-trader lock retry failed: %s", self.last_error)
            return False


async def verify(runner: Any) -> bool:
    """Right before an order: does this instance still hold the lock (checked now, in a thread)?"""
    lock, role = runner.lock, runner.role
    if not role.is_trader:
        return False
    status = await asyncio.to_thread(lock.check)
    role.on_lock_status(True, status)
    return role.is_trader


async def take_over(runner: Any) -> None:
    """This observer got the lock: adopt, reconcile, then trade (or stay an observer if the
    reconciliation failed). Entries stay blocked until the end (breaker, observer reason)."""
    log.info("runner %s took the sole-trader lock: adopting", runner.config.instance_id)
    slot = runner.primary
    if runner.primary.venue_orders:
        await runner.adopt_and_reconcile()
        runner.watch_adopted()
    role = runner.role
    role.took_over()
    if not role.observer_reasons:
        ts = runner.now_ms()
        for s in runner.slots:
            _reset_lock_trip(s, ts)
    log.info(
        "runner %s is now %s (adopted %d position(s))",
        runner.config.instance_id,
        role.name,
        sum(1 for _ in slot.engine.positions.open_positions()),
    )


def _reset_lock_trip(slot: EngineSlot, ts: int) -> None:
    """Lift the trip this instance had as an observer waiting for the lock (the breaker resets
    once no other cause remains, e.g. a store outage still being recovered from)."""
    lift(slot, OBSERVER_TRIP, ts, "took over the sole-trader lock")
