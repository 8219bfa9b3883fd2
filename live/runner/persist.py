"""Engine records to PostgreSQL off the event loop: one Sink (own connection) per engine, flushed
from a worker thread so the loop never waits on the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from live.kernel.domain import Mode
from live.store.sink import Sink

log = logging.getLogger(__name__)


class EnginePersistence:
    """Collects one engine's records and writes them in batches (serialised by a lock)."""

    def __init__(
        self,
        url: str,
        run_id: str,
        mode: Mode,
        strategies: str,
        assets: list[str],
        statement_timeout_ms: int | None = None,
        venue: str | None = None,
    ):
        self._url = url
        self._options = (
            {}
            if statement_timeout_ms is None
            else {"options": f"-c statement_timeout={statement_timeout_ms}"}
        )
        self._conn = psycopg.connect(url, autocommit=False, **self._options)
        self.sink = Sink(self._conn, run_id)
        # Its own thread: during an outage the shared worker pool fills with reads waiting for
        # connections, and the engine's records must not queue behind them.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"persist-{run_id}")
        self.sink.open_run(
            kind="session", mode=mode, strategy=strategies, assets=assets, venue=venue
        )
        self._conn.commit()
        self._pending: list[Any] = []
        self._flushing: asyncio.Future | None = None  # the one write in flight, if any
        self.last_write: float | None = None
        self.failures = 0
        self.last_error: str | None = None
        self.failing = False  # the last write failed: the store is unreachable (issue 15)
        self.timeouts = 0  # writes cancelled by the statement timeout (a stuck query)
        self.discarded = 0  # pending records dropped at a lock loss (handed over)

    def add(self, records: list[Any]) -> None:
        self._pending.extend(records)

    async def flush(self) -> None:
        """Write what is pending. One write at a time, and a write once started finishes (its
        bookkeeping included) even if the caller is cancelled: the worker thread cannot be
        stopped, so abandoning it would let a second write share the connection with it (and
        lose the batch of a write that then failed)."""
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)
        if not self._pending:
            return
        self._flushing = asyncio.ensure_future(self._flush_once())
        await asyncio.shield(self._flushing)

    async def _flush_once(self) -> None:
        batch, self._pending = self._pending, []
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._write, batch)
            self.last_write = time.monotonic()
            self.failing = False
        except psycopg.Error as exc:
            # Keep the records: they are retried with the next flush (never dropped).
            self._pending[:0] = batch
            self.failures += 1
            self.failing = True
            self.last_error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, psycopg.errors.QueryCanceled):
                self.timeouts += 1
                kinds = sorted({type(r).__name__ for r in batch})
                log.error(
                    "query timeout writing run %s: %d records (%s) wait for the store: %s",
                    self.sink.run_id,
                    len(batch),
                    ", ".join(kinds),
                    exc,
                )
            else:
                log.error("writing engine records failed (%d pending): %s", len(batch), exc)
            with contextlib.suppress(psycopg.Error):
                self._conn.rollback()
            # The failed sink's buffer is discarded with it; the batch is re-queued above.
            self.sink = Sink(self._conn, self.sink.run_id)

    def discard(self, types: tuple[type, ...]) -> int:
        """Drop the pending records of `types` (a trader that lost the lock: the rows belong to
        the instance that took it over, issue 15). Returns how many were dropped (logged)."""
        kept = [r for r in self._pending if not isinstance(r, types)]
        dropped = len(self._pending) - len(kept)
        if dropped:
            self._pending = kept
            self.discarded += dropped
            log.warning(
                "run %s: %d pending records handed over, not written", self.sink.run_id, dropped
            )
        return dropped

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _write(self, batch: list[Any]) -> None:
        if self._conn.closed or self._conn.broken:
            # The server went away (restart, outage, a killed backend): a new connection.
            self._conn.close()
            self._conn = psycopg.connect(
                self._url, autocommit=False, connect_timeout=5, **self._options
            )
            self.sink = Sink(self._conn, self.sink.run_id)
        self.sink.extend(batch)
        self.sink.flush()

    async def close(self, summary: dict) -> None:
        await self.flush()
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._thread, self.sink.finish, summary
            )
        finally:
            self._conn.close()
            self._thread.shutdown(wait=False)
