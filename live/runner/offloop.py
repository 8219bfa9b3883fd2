"""Database writes asked for on the event loop, done off it (issue 15: no synchronous database
call on the loop — a hung or stopped server must never freeze it).

`OffLoopWrites.submit(what, fn, *args)` returns at once; one task runs the jobs in order, each in
a worker thread. A job that fails with a database error stays first in line and is retried every
`retry_s` (its successors wait: a feed gap is closed only after it was opened), so an outage
delays the writes and loses none — up to `bound` jobs waiting; beyond it the newest is refused,
logged and counted in `lost` (never silent). Outside a running loop (tests, CLI helpers) the job
runs at once in the caller's thread."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

log = logging.getLogger(__name__)
DB_ERRORS = (psycopg.Error, PoolTimeout, OSError)


class OffLoopWrites:
    def __init__(self, name: str, *, bound: int = 10_000, retry_s: float = 1.0) -> None:
        self.name = name
        self.bound = bound
        self.retry_s = retry_s
        self._jobs: deque[tuple[str, Callable[..., Any], tuple]] = deque()
        self._task: asyncio.Task | None = None
        self.done = 0
        self.failures = 0  # failed attempts (each retried)
        self.lost = 0  # refused because `bound` jobs were already waiting
        self.last_error: str | None = None

    @property
    def waiting(self) -> int:
        return len(self._jobs)

    def submit(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        """Queue `fn(*args)` (blocking database IO) to run in a worker thread, in order."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            fn(*args)  # no loop to protect: run it here
            self.done += 1
            return
        if len(self._jobs) >= self.bound:
            self.lost += 1
            log.error(
                "%s: %d writes waiting, %s refused (counted lost)", self.name, self.bound, what
            )
            return
        self._jobs.append((what, fn, args))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(), name=f"offloop-{self.name}")

    async def _drain(self) -> None:
        while self._jobs:
            what, fn, args = self._jobs[0]
            try:
                await asyncio.to_thread(fn, *args)
            except DB_ERRORS as exc:
                self.failures += 1
                self.last_error = f"{what}: {type(exc).__name__}: {exc}"
                log.warning("%s: %s (retrying in %.1f s)", self.name, self.last_error, self.retry_s)
                await asyncio.sleep(self.retry_s)
                continue
            self._jobs.popleft()
            self.done += 1

    async def idle(self) -> None:
        """Wait until every queued job is written (tests; the runner's stop)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self, timeout_s: float = 5.0) -> int:
        """At a stop: wait up to `timeout_s` for the queued jobs, then give up on the rest
        (the store is away): they are logged and counted lost. Returns how many were lost."""
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        left = len(self._jobs)
        if left:
            self.lost += left
            log.error("%s: %d writes not done at the stop (counted lost)", self.name, left)
            self._jobs.clear()
        return left

    def status(self) -> dict[str, Any]:
        return {
            "waiting": self.waiting,
            "done": self.done,
            "failures": self.failures,
            "lost": self.lost,
            "last_error": self.last_error,
        }
