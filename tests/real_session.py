"""ONE real recorded sandbox session for the dashboard, canary-report and signal-replay tests.

A sandbox exchange (20 s windows, BTC + ETH, settled 1 s after the close) and an in-process
`Runner` trading the promoted canary in LIVE (sandbox) with PAPER and DRY_RUN copies, until each
mode has settled at least three windows; then the kill switch is set to pause, what is open
settles, and the runner stops cleanly. Everything the runner writes stays in the database:
windows, the market_events journal, signals, decisions, orders, fills, positions and their
events, settlements, balances, assertion results and the instance row.

The recording costs about a minute, so it is made once and shared:
- within one pytest process by the session fixture `real_session` (consumers are marked
  `xdist_group("real_session")`, so under xdist one worker records it for all of them);
- across the processes of one `make test` (the parallel suite, then the `isolated` browser
  module) by keeping the recorded database as a cache: `updown_real_<fingerprint>`, where the
  fingerprint hashes the code that produced it (live/, sandbox/, strategies/, this file); a
  cache older than `MAX_AGE` or of other code is dropped and recorded again. The database's
  COMMENT holds the session's metadata and marks it complete.

Consumers never write to it: `copy_of(session)` gives a throwaway copy (CREATE DATABASE …
TEMPLATE) to plant faults in or to run a second runner against (`alive_runner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from runner_kit import (
    REPO,
    live_controls,
    make_runner,
    promote,
    runner_config,
    running,
    set_controls,
    settle_then_pause,
    start_sandbox,
)

from live.store import db, migrate

GROUP = "real_session"
PREFIX = "updown_real_"
MAX_AGE_S = 45 * 60
NEEDED = 3  # settled windows per mode (LIVE: 3 periods; each copy: 3 periods × 2 assets)
SOURCES = ("live", "sandbox", "strategies", "tests/real_session.py", "tests/runner_kit.py")
NOT_RECORDING = ("canary_", "reports", "alerts")  # live/ modules that only read a recording


@dataclass(frozen=True)
class RealSession:
    """Where the recording is and what it is: one run id per mode, the pause time."""

    url: str
    runs: dict[str, str]  # {"LIVE": run_id, "PAPER": run_id, "DRY_RUN": run_id}
    instance_id: str
    paused_at: str  # ISO time the kill switch was set to pause (later windows: denied signals)
    recorded_s: float

    @property
    def paused(self) -> datetime:
        return datetime.fromisoformat(self.paused_at)


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        path = REPO / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        files = [f for f in files if not f.name.startswith(NOT_RECORDING)]
        for f in files:
            digest.update(str(f.relative_to(REPO)).encode())
            digest.update(f.read_bytes())
    for f in sorted((REPO / "live" / "store").rglob("*.sql")):
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def _admin(admin_url: str):
    return psycopg.connect(admin_url, autocommit=True)


def _cached(admin_url: str, name: str) -> RealSession | None:
    with _admin(admin_url) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if not row or not row[0]:
        return None
    meta = json.loads(row[0])
    if time.time() - meta.pop("created", 0) > MAX_AGE_S:
        return None
    return RealSession(**meta)


def _drop_stale(admin_url: str, keep: str) -> None:
    """Drop other recordings nobody is using: older than MAX_AGE_S, or never completed. Another
    test run on this server may be reading a recording of other code right now: never force."""
    with _admin(admin_url) as conn:
        found = conn.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE datname LIKE %s AND datname <> %s",
            (PREFIX + "%", keep),
        ).fetchall()
        for name, comment in found:
            created = json.loads(comment).get("created", 0) if comment else 0
            if time.time() - created > MAX_AGE_S:
                with contextlib.suppress(psycopg.Error):  # in use: left for a later run
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def obtain(admin_url: str) -> RealSession:
    """The cached recording of this code, else a new one (serialised by an advisory lock)."""
    name = PREFIX + fingerprint()
    with _admin(admin_url) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext('updown_real_session'))")
        try:
            found = _cached(admin_url, name)
            if found is not None:
                return found
            _drop_stale(admin_url, keep=name)
            with _admin(admin_url) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # an incomplete recording
                conn.execute(f'CREATE DATABASE "{name}"')
            url = db.with_database(admin_url, name)
            migrate.migrate(url)
            session = record(url)
            meta = json.dumps({**asdict(session), "created": time.time()})
            with _admin(admin_url) as conn:
                conn.execute(f'COMMENT ON DATABASE "{name}" IS {_literal(meta)}')
            return session
        finally:
            lock.execute("SELECT pg_advisory_unlock(hashtext('updown_real_session'))")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def record(url: str) -> RealSession:
    """Run the canary in LIVE(sandbox) + PAPER + DRY_RUN until 3 settled windows per mode."""
    began = time.monotonic()
    server = start_sandbox()
    try:
        live_controls(url)
        promote(url, "always-trade-canary", "canary")
        config = runner_config(server.base_url, copies=("paper", "dry-run"))
        runner = make_runner(url, config)
        paused_at = asyncio.run(_drive(url, runner))
    finally:
        server.stop()
    runs = {slot.engine.mode.value: slot.engine.run_id for slot in runner.slots}
    return RealSession(
        url, runs, config.instance_id, paused_at.isoformat(), time.monotonic() - began
    )


async def _drive(url: str, runner) -> datetime:
    async with running(runner):
        return await settle_then_pause(url, runner, NEEDED)


def copy_of(admin_url: str, session: RealSession) -> str:
    """A throwaway copy of the recording (the caller drops it with `drop`)."""
    name = f"updown_rc_{uuid.uuid4().hex[:12]}"
    template = dbname(session.url)
    for attempt in range(40):  # the template must have no other connection for a moment
        try:
            with _admin(admin_url) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            break
        except psycopg.errors.ObjectInUse:
            if attempt == 39:
                raise
            time.sleep(0.25)
    return db.with_database(admin_url, name)


def dbname(url: str) -> str:
    return conninfo_to_dict(url)["dbname"]


def drop(admin_url: str, url: str) -> None:
    name = dbname(url)
    with _admin(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def real_session(pg_admin_url: str) -> RealSession:
    """The recorded session (read-only: plant faults in `copy_of` it)."""
    return obtain(pg_admin_url)


@pytest.fixture
def session_copy(pg_admin_url: str, real_session: RealSession) -> Iterator[str]:
    url = copy_of(pg_admin_url, real_session)
    try:
        yield url
    finally:
        drop(pg_admin_url, url)


class AliveRunner:
    """A runner trading the canary in LIVE (sandbox) against `url`, on its own thread and loop,
    for checks that need a RUNNING runner (the dashboard's PAUSE → health PAUSED)."""

    def __init__(self, url: str, **config) -> None:
        self.url = url
        self.config = config  # runner_config overrides (copies=("paper", "dry-run"), …)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="alive-runner", daemon=True)

    def __enter__(self) -> AliveRunner:
        self.server = start_sandbox()
        set_controls(self.url, kill_switch="off")
        self.runner = make_runner(self.url, runner_config(self.server.base_url, **self.config))
        self._thread.start()
        if not self.ready.wait(30) or self.error is not None:
            raise RuntimeError(f"the runner did not start: {self.error!r}")
        return self

    def _main(self) -> None:
        async def go() -> None:
            self.loop = asyncio.get_running_loop()
            async with running(self.runner):
                self.ready.set()
                await self.runner.stopping.wait()

        try:
            asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - reported by __enter__ / __exit__
            self.error = exc
            self.ready.set()

    def __exit__(self, *exc_info) -> None:
        if self.ready.is_set() and self.error is None:
            self.loop.call_soon_threadsafe(self.runner.request_stop)
        self._thread.join(30)
        self.server.stop()

    @property
    def health_url(self) -> str:
        return self.runner.health.url
