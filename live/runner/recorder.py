"""The market-data recorder (FM3, FM5): every feed message is journalled into `market_events`
with its source and receive timestamps. Writes are batched (COPY into a temp table, then an
idempotent INSERT … ON CONFLICT DO NOTHING keyed by (source, dedup_key)), a failed flush is
retried once, and whatever still fails stays buffered for the next flush (a database outage,
issue 15) up to `max_buffer` messages; messages beyond the bound are counted as lost — never
silently dropped (`lost` per source in /health and the db-outage drill's output)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

log = logging.getLogger(__name__)


@dataclass
class FeedCounters:
    received: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    written: int = 0
    lost: int = 0
    last_ts_ms: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    ts_ms: int
    recv_ms: int
    source: str
    kind: str
    payload: dict
    dedup_key: str | None = None
    asset: str | None = None
    slug: str | None = None
    token_id: str | None = None


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class Recorder:
    """Buffers messages and flushes them in batches. One owner (the runner) adds on the event
    loop; a flush may run in a worker thread (`flush_in_background`): the buffer and the lost
    counts are guarded by a lock."""

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        batch_size: int = 500,
        seen_capacity: int = 200_000,
        max_buffer: int = 100_000,
    ) -> None:
        self._pool = pool
        self.batch_size = batch_size
        self.max_buffer = max_buffer  # messages kept while the store is unreachable
        self._lock = threading.Lock()
        self._flushing: asyncio.Task | None = None
        self._buffer: list[RecordedMessage] = []
        self._in_flight: list[RecordedMessage] = []  # the batch being written now
        self._seen: dict[tuple[str, str], None] = {}
        self._seen_capacity = seen_capacity
        self.counters: dict[str, FeedCounters] = defaultdict(FeedCounters)
        self.last_write_ms: int | None = None
        self.flush_failures = 0

    def add(self, message: RecordedMessage) -> bool:
        """Queue one message; False if it is a duplicate already seen."""
        c = self.counters[message.source]
        c.received += 1
        if message.dedup_key is not None:
            key = (message.source, message.dedup_key)
            if key in self._seen:
                c.duplicates += 1
                return False
            self._seen[key] = None
            if len(self._seen) > self._seen_capacity:
                self._seen.pop(next(iter(self._seen)))
        stream = message.token_id or message.asset or ""
        last = c.last_ts_ms.get(stream)
        if last is not None and message.ts_ms < last:
            c.out_of_order += 1
        else:
            c.last_ts_ms[stream] = message.ts_ms
        with self._lock:
            if len(self._buffer) >= self.max_buffer:
                c.lost += 1  # the store has been away too long: counted, never silent
                return True
            self._buffer.append(message)
        return True

    def pending(self) -> int:
        return len(self._buffer)

    def flush_in_background(self, now_ms: int) -> None:
        """Start a flush in a worker thread unless one is running (the tick never waits for the
        database, issue 15). Call on the event loop."""
        if self._flushing is not None and not self._flushing.done():
            return
        self._flushing = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self.flush, now_ms), name="recorder-flush"
        )

    async def idle(self) -> None:
        """Wait for the flush in flight, if any."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)

    def flush(self, now_ms: int) -> int:
        """Write the buffer; retry once on failure; what still fails goes back to the buffer
        (the messages beyond `max_buffer` counted as lost). Returns rows sent."""
        with self._lock:
            if not self._buffer:
                return 0
            batch, self._buffer = self._buffer, []
            self._in_flight = batch
        for attempt in (1, 2):
            try:
                self.write_batch(batch)
            except (psycopg.Error, PoolTimeout, OSError) as exc:
                self.flush_failures += 1
                log.warning("recorder flush attempt %d failed: %s", attempt, exc)
                continue
            with self._lock:
                for m in batch:
                    self.counters[m.source].written += 1
                self._in_flight = []
            self.last_write_ms = now_ms
            return len(batch)
        with self._lock:
            self._in_flight = []
            kept = batch + self._buffer
            self._buffer = kept[: self.max_buffer]
            over = kept[self.max_buffer :]
            for m in over:
                self.counters[m.source].lost += 1
        log.error(
            "recorder: store unreachable, %d messages buffered, %d lost beyond the bound",
            len(self._buffer),
            len(over),
        )
        return 0

    def write_batch(self, batch: list[RecordedMessage]) -> None:
        with self._pool.connection(timeout=5) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE incoming (LIKE market_events INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            columns = "ts, recv_ts, source, kind, asset, slug, token_id, payload, dedup_key"
            with cur.copy(f"COPY incoming ({columns}) FROM STDIN") as copy:
                for m in batch:
                    copy.write_row(
                        (
                            _dt(m.ts_ms),
                            _dt(m.recv_ms),
                            m.source,
                            m.kind,
                            m.asset,
                            m.slug,
                            m.token_id,
                            json.dumps(m.payload, separators=(",", ":")),
                            m.dedup_key,
                        )
                    )
            cur.execute(
                f"INSERT INTO market_events ({columns}) SELECT {columns} FROM incoming "
                "ORDER BY ts ON CONFLICT (source, dedup_key) WHERE dedup_key IS NOT NULL "
                "DO NOTHING"
            )

    def stats(self) -> dict[str, dict[str, int]]:
        """Per source: received, duplicates, out_of_order, written, lost and `buffered` (waiting
        for the store, or being written now): received = duplicates + written + lost + buffered
        (none lost silently)."""
        with self._lock:
            buffered = Counter(m.source for m in self._buffer)
            buffered.update(m.source for m in self._in_flight)
            return {
                source: {
                    "received": c.received,
                    "duplicates": c.duplicates,
                    "out_of_order": c.out_of_order,
                    "written": c.written,
                    "lost": c.lost,
                    "buffered": buffered.get(source, 0),
                }
                for source, c in self.counters.items()
            }


ENGINE_INPUT = "engine_input"  # market_events.kind of the journalled engine-input stream


def engine_input(run_id: str, seq: int, event: object, now_ms: int) -> RecordedMessage:
    """One event as the journalled engine saw it, numbered in dispatch order (signal replay
    needs the exact input stream: feed messages, and the runner's own timers, window listings,
    resolutions and control changes, which no feed records). Stored under its own kind, so
    market-data readers (filtering on the journal kinds) never see it twice."""
    from live.journal.codec import to_dict  # the journal form; parse_event reads it back

    try:
        if hasattr(event, "as_mapping"):  # the engine's controls at start (seq 0)
            payload = {"ts": now_ms, "kind": "controls", "values": event.as_mapping()}
        else:
            payload = to_dict(event)  # type: ignore[arg-type]
    except (KeyError, TypeError, AttributeError):
        payload = {"ts": getattr(event, "ts", now_ms), "kind": type(event).__name__}
    payload |= {"seq": seq, "run_id": run_id}
    return RecordedMessage(
        int(getattr(event, "ts", now_ms)), now_ms, "engine", ENGINE_INPUT, payload
    )
