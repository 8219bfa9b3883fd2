"""The one background poller per server process.

A plain thread with its own autocommit connection. It LISTENs on `updown_controls` (a control
change wakes it at once), checks a cheap watermark every `interval_s`, re-reads the trading read
models only when the watermark moved, re-reads feed ages/rates and the runner's health every
second, and publishes one immutable Snapshot into the shared CockpitState. Sessions only compare
versions; they never touch the database.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import httpx
import psycopg

from live.store.controls import CHANNEL
from panel_app import queries
from panel_app.models.state import CockpitState, RunnerHealth, Snapshot

log = logging.getLogger(__name__)
HEALTH_TIMEOUT_S = 0.5


def fetch_runner_health(instances) -> RunnerHealth:
    """GET the trader's health_url; fall back to the instances.health copy if unreachable."""
    if instances is None or instances.empty:
        return RunnerHealth()
    row = instances.iloc[0]
    stored = row["health"] if isinstance(row["health"], dict) else {}
    url = row["health_url"] or None
    if not url:
        return RunnerHealth(
            stored,
            "db" if stored else "none",
            None,
            None,
            "no health_url registered",
            row["instance_id"],
        )
    try:
        response = httpx.get(url, timeout=HEALTH_TIMEOUT_S)
        response.raise_for_status()
        return RunnerHealth(response.json(), "endpoint", url, True, None, row["instance_id"])
    except (httpx.HTTPError, ValueError) as exc:
        return RunnerHealth(
            stored,
            "db" if stored else "none",
            url,
            False,
            f"{type(exc).__name__}: {exc}"[:200],
            row["instance_id"],
        )


class Poller(threading.Thread):
    """Reads the DB into `state` until stopped. Start it once per process (see `shared`)."""

    def __init__(
        self,
        url: str,
        state: CockpitState,
        *,
        interval_s: float = 0.1,
        feed_interval_s: float = 1.0,
    ) -> None:
        super().__init__(name="updown-dashboard-poller", daemon=True)
        self.url, self.state = url, state
        self.interval_s, self.feed_interval_s = interval_s, feed_interval_s
        self._stop = threading.Event()
        self._mark: tuple | None = None
        self._events: dict = {}
        self._feeds: dict = {}
        self._health = RunnerHealth()
        self._feeds_at = 0.0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._loop(conn)
            except Exception as exc:  # noqa: BLE001 - the poller must survive and report
                log.warning(
                    "dashboard poller: %s", exc, exc_info=not isinstance(exc, psycopg.Error)
                )
                self.state.fail(f"poller error: {type(exc).__name__}: {exc}"[:300])
                self._mark = None
                self._stop.wait(1.0)

    def connect(self) -> psycopg.Connection:
        """An autocommit connection configured as the poller reads (NUMERIC shown as float)."""
        conn = psycopg.connect(self.url, autocommit=True)
        queries.display_numbers(conn)
        return conn

    def _loop(self, conn: psycopg.Connection) -> None:
        while not self._stop.is_set():
            self.poll_once(conn)
            # A NOTIFY (control change) ends the wait early.
            for _ in conn.notifies(timeout=self.interval_s, stop_after=1):
                self._mark = None

    def poll_once(self, conn: psycopg.Connection) -> None:
        """One cycle: re-read what changed and publish if anything did."""
        mark = queries.watermark(conn)
        events_changed = mark != self._mark
        if events_changed:
            self._events = queries.fetch(conn, queries.EVENT_QUERIES)
            self._mark = mark
        feeds_due = time.monotonic() - self._feeds_at >= self.feed_interval_s
        if feeds_due:
            self._feeds = queries.fetch(conn, queries.FEED_QUERIES)
            self._health = fetch_runner_health(self._events.get("instances"))
            self._feeds_at = time.monotonic()
        if events_changed or feeds_due:
            snapshot = Snapshot(datetime.now(UTC), {**self._events, **self._feeds}, self._health)
            self.state.publish(snapshot, events_changed=events_changed)


_LOCK = threading.Lock()
_SHARED: dict[str, tuple[CockpitState, Poller]] = {}


def shared(url: str, **kwargs) -> CockpitState:
    """The process-wide state for `url`, starting its poller on first use (thread-safe)."""
    with _LOCK:
        if url not in _SHARED or not _SHARED[url][1].is_alive():
            state = CockpitState(name="cockpit")
            poller = Poller(url, state, **kwargs)
            poller.start()
            _SHARED[url] = (state, poller)
        return _SHARED[url][0]


def stop_all() -> None:
    """Stop every poller this process started (tests and clean shutdown)."""
    with _LOCK:
        for _state, poller in _SHARED.values():
            poller.stop()
        _SHARED.clear()
