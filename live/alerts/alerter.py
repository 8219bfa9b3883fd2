"""Operator alerts (spec "Alerting (Beyond Dashboard)", DESIGN §11): Discord webhook and Telegram
bot messages, every one recorded in table `alerts`, never blocking trading.

The runner owns one `Alerter`. `raise_()` is synchronous and O(1): it de-duplicates and puts the
alert on a bounded asyncio queue (a full queue drops the alert and counts it; it never waits). A
background task records each alert, sends it to every configured channel with bounded retries,
then records the outcome. Secrets (the webhook URL, the bot token) are redacted from everything
written to the log or the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from live.alerts.alert import DEFAULT_SEVERITY, Alert, AlertKind, Severity, dedup_key
from live.alerts.channels import Outcome, Redactor, RetryPolicy, deliver
from live.alerts.config import AlertConfig

log = logging.getLogger(__name__)


@dataclass
class AlertStats:
    """Counters for the health endpoint and the tests."""

    raised: int = 0
    queued: int = 0
    suppressed: int = 0
    dropped: int = 0
    recorded: int = 0
    record_failures: int = 0
    delivered: int = 0
    undelivered: int = 0


@dataclass
class _Window:
    first_ts: float
    suppressed: int = 0
    row_id: int | None = None


class Alerter:
    """Owned by the runner: `await start()`, then `raise_(...)` from anywhere, `await stop()`."""

    def __init__(
        self,
        database_url: str,
        config: AlertConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or AlertConfig.from_env()
        self.stats = AlertStats()
        self._url = database_url
        self._clock = clock
        self._channels = self.config.channels()
        self._policy = RetryPolicy(
            self.config.max_attempts, self.config.backoff_s, self.config.backoff_max_s
        )
        self.redact = Redactor(self.config.secrets())
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=self.config.queue_size)
        self._windows: dict[str, _Window] = {}
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self._client: httpx.AsyncClient | None = None
        self._dropped_reported = 0
        self._written_suppressed: dict[int, int] = {}
        self._expired: list[_Window] = []

    @property
    def channels(self) -> list[str]:
        """Names of the configured channels (no secrets)."""
        return [c.name for c in self._channels]

    async def start(self) -> None:
        """Start the background sender on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        logging.getLogger("httpx").addFilter(self.redact)  # httpx logs every request's URL
        # Building the client loads the TLS trust store: done off the loop, before any tick.
        self._client = await asyncio.to_thread(httpx.AsyncClient, timeout=self.config.timeout_s)
        self._task = asyncio.create_task(self._run(), name="alerter")

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Send what is queued (up to `drain_timeout_s`), then stop; leftovers are recorded as
        undelivered."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_timeout_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            alert = self._queue.get_nowait()
            self._queue.task_done()
            outcome = Outcome(delivered=False if self._channels else None)
            outcome.errors.append("not sent: alerter stopped first")
            await self._record_final(alert, None, outcome)
        await self._flush_suppressed()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        logging.getLogger("httpx").removeFilter(self.redact)

    async def __aenter__(self) -> Alerter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ the caller's side (never blocks)

    def raise_(
        self,
        kind: AlertKind | str,
        where: str,
        what_happened: str,
        what_we_did: str,
        *,
        severity: Severity | str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue an alert and return at once. Identical alerts (kind, where, what_happened) within
        the dedup window are counted, not re-sent; a full queue drops and counts. Thread-safe."""
        kind = AlertKind(kind)
        severity = Severity(severity) if severity else DEFAULT_SEVERITY[kind]
        args = (kind, where, what_happened, what_we_did, severity, dict(detail or {}))
        if self._loop is not None and threading.get_ident() != self._thread_id:
            self._loop.call_soon_threadsafe(self._enqueue, *args)
        else:
            self._enqueue(*args)

    def _enqueue(self, kind, where, what_happened, what_we_did, severity, detail) -> None:
        self.stats.raised += 1
        now = self._clock()
        key = dedup_key(kind, where, what_happened)
        window = self._windows.get(key)
        if window is not None and now - window.first_ts < self.config.dedup_window_s:
            window.suppressed += 1
            self.stats.suppressed += 1
            return
        if window is not None and window.suppressed:
            self._expired.append(window)  # its count still has to reach its row
        self._prune(now)
        self._windows[key] = _Window(first_ts=now)
        alert = Alert(
            kind, severity, where, what_happened, what_we_did, detail, key, now,
            suppressed_before=window.suppressed if window else 0,
        )  # fmt: skip
        try:
            self._queue.put_nowait(alert)
            self.stats.queued += 1
        except asyncio.QueueFull:
            self.stats.dropped += 1
            del self._windows[key]  # let the next occurrence through once there is room

    def _prune(self, now: float) -> None:
        if len(self._windows) > 4 * self.config.queue_size:
            horizon = now - self.config.dedup_window_s
            self._windows = {k: w for k, w in self._windows.items() if w.first_ts >= horizon}

    # ------------------------------------------------------------ the background task

    async def _run(self) -> None:
        client = self._client
        while True:
            try:
                alert = await asyncio.wait_for(self._queue.get(), 1.0)
            except TimeoutError:
                await self._flush_suppressed()
                continue
            try:
                await self._handle(client, alert)
            except Exception:  # noqa: BLE001 - the sender must outlive any one alert
                log.exception("alert %s could not be handled", alert.kind)
            finally:
                self._queue.task_done()
            self._report_drops()

    async def _handle(self, client: httpx.AsyncClient, alert: Alert) -> None:
        row_id = await self._insert(alert)
        window = self._windows.get(alert.dedup_key)
        if window is not None and window.first_ts == alert.ts:
            window.row_id = row_id
        try:
            outcome = await deliver(
                client, self._channels, alert.message, self._policy, self.redact
            )
        except asyncio.CancelledError:
            outcome = Outcome(delivered=False, errors=["not sent: alerter stopped during delivery"])
            await self._record_final(alert, row_id, outcome)
            raise
        if outcome.delivered:
            self.stats.delivered += 1
        elif outcome.delivered is False:
            self.stats.undelivered += 1
            log.warning("alert %s undelivered: %s", alert.kind, "; ".join(outcome.errors))
        await self._record_final(alert, row_id, outcome)

    def _report_drops(self) -> None:
        if self.stats.dropped > self._dropped_reported:
            self._dropped_reported = self.stats.dropped
            self.raise_(
                AlertKind.ALERTS_DROPPED,
                "alerter queue",
                "the alert queue was full; alerts were dropped",
                "counted the drops; the runner was not slowed",
                detail={"dropped_total": self.stats.dropped},
            )

    # ------------------------------------------------------------ the `alerts` table

    async def _db(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=5, options="-c statement_timeout=5000"
            )
        return self._conn

    async def _execute(self, sql: str, params: tuple) -> tuple | None:
        try:
            conn = await self._db()
            cur = await conn.execute(sql, params)
            return await cur.fetchone() if cur.description else None
        except (psycopg.Error, OSError) as exc:
            self.stats.record_failures += 1
            log.warning("alerts table write failed: %s", self.redact(str(exc)))
            if self._conn is not None:
                await self._conn.close()
            self._conn = None
            return None

    def _detail(self, alert: Alert) -> str:
        detail = {
            **alert.detail,
            "where": alert.where,
            "what_happened": alert.what_happened,
            "what_we_did": alert.what_we_did,
            "channels": self.channels,
        }
        if alert.suppressed_before:
            detail["suppressed_before"] = alert.suppressed_before
        return self.redact(json.dumps(detail, default=str))

    async def _insert(self, alert: Alert) -> int | None:
        row = await self._execute(
            """INSERT INTO alerts (ts, kind, severity, message, dedup_key, detail)
               VALUES (to_timestamp(%s), %s, %s, %s, %s, %s::jsonb) RETURNING id""",
            (
                alert.ts,
                str(alert.kind),
                str(alert.severity),
                self.redact(alert.message),
                alert.dedup_key,
                self._detail(alert),
            ),
        )
        if row is not None:
            self.stats.recorded += 1
            return row[0]
        return None

    async def _record_final(self, alert: Alert, row_id: int | None, outcome: Outcome) -> None:
        error = self.redact("; ".join(outcome.errors))[:2000] or None
        extra = json.dumps({"delivery": outcome.channels})
        if row_id is None:
            row_id = await self._insert(alert)
            if row_id is None:
                log.error("alert not recorded: %s", self.redact(alert.message))
                return
        await self._execute(
            """UPDATE alerts SET delivered = %s, attempts = %s, last_error = %s,
                   detail = detail || %s::jsonb WHERE id = %s""",
            (outcome.delivered, outcome.attempts, error, extra, row_id),
        )

    async def _flush_suppressed(self) -> None:
        """Write each open window's suppressed count into its row's detail."""
        expired, self._expired = self._expired, [w for w in self._expired if w.row_id is None]
        for window in [*expired, *self._windows.values()]:
            row_id = window.row_id
            if row_id is None or self._written_suppressed.get(row_id) == window.suppressed:
                continue
            if window.suppressed:
                await self._execute(
                    """UPDATE alerts SET detail = jsonb_set(detail, '{suppressed}', to_jsonb(%s))
                       WHERE id = %s""",
                    (window.suppressed, row_id),
                )
            self._written_suppressed[row_id] = window.suppressed


async def send_once(database_url: str, alert_args: Mapping[str, Any], config=None) -> AlertStats:
    """Record and send one alert outside the runner (used by `updown report daily`)."""
    alerter = Alerter(database_url, config)
    await alerter.start()
    alerter.raise_(**alert_args)
    await alerter.stop(drain_timeout_s=alerter.config.timeout_s * alerter.config.max_attempts + 30)
    return alerter.stats
