"""Helpers for the live runner's integration tests: an in-process `Runner` against a sandbox
exchange and a real PostgreSQL database, polled (never slept) until a condition holds."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from live.runner.config import RunnerConfig
from live.runner.runner import Runner
from live.store import controls as control_store
from live.store import db
from live.venues.config import VenueConfig
from live.venues.polymarket import PolymarketVenue
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests_support import free_port

REPO = Path(__file__).resolve().parents[1]
WINDOW_S = 20


# The drills read the sandbox's price path from one fixed hour (2026-01-01 19:00 UTC, seed 11),
# so what they see does not depend on the time of day CI runs them: the path is indexed by the
# wall clock, and on some hours the VWAP-contrarian ladder waited 15 windows for its first
# signal. In this hour it signals in each of the first six 20 s BTC windows (docs/sandbox.md).
PATH_START = 1_767_294_000


def sandbox_config(**overrides: Any) -> SandboxConfig:
    """Short windows for runner drills: 20 s, settled 1 s after the close, BTC and ETH, on a
    pinned price path (PATH_START)."""
    settings: dict[str, Any] = {
        "port": 0,
        "seed": 11,
        "path_start": PATH_START,
        "assets": ("BTC", "ETH"),
        "window_seconds": (WINDOW_S,),
        "settle_delay": 1.0,
        "trade_step_seconds": 0.2,
        "tick_seconds": 2.0,
    }
    settings.update(overrides)
    return SandboxConfig(**settings)


# The drills' sandboxes share one admin token, so `Faults(base_url)` can drive any of them.
ADMIN_TOKEN = "runner-kit-admin-token"


def start_sandbox(**overrides: Any) -> SandboxServer:
    return SandboxServer(sandbox_config(**overrides), admin_token=ADMIN_TOKEN).start()


class Faults:
    """The sandbox's private fault API."""

    def __init__(self, base_url: str, admin_token: str = ADMIN_TOKEN) -> None:
        self.http = httpx.Client(
            base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {admin_token}"}
        )

    def inject(self, kind: str, **params: Any) -> dict:
        response = self.http.post("/_sandbox/faults", json={"kind": kind, **params})
        response.raise_for_status()
        return response.json()

    def clear(self) -> None:
        self.http.delete("/_sandbox/faults").raise_for_status()

    def state(self) -> dict:
        return self.http.get("/_sandbox/state").json()

    def clear_kind(self, kind: str) -> None:
        self.http.delete("/_sandbox/faults", params={"kind": kind}).raise_for_status()

    def orders(self, slug: str) -> list[dict]:
        """Every order the sandbox accepted on one window (hidden ones included)."""
        return [o for o in self.state()["orders"] if o["slug"] == slug]


def set_controls(db_url: str, by: str = "test", **values: str) -> None:
    with psycopg.connect(db_url) as conn:
        for key, value in values.items():
            control_store.write(conn, key, value, by)


def promote(
    db_url: str, strategy: str, prereg: str, target: str = "paper", rel: str | None = None
) -> int:
    """A promotion row bound to the real file's sha256, the way `research.gate.record` writes it
    (the gate's own checks need 10 clean prior windows, which these drills do not have). `rel`:
    another file than preregistrations/<prereg>.yaml (repo-relative)."""
    rel = rel or f"preregistrations/{prereg}.yaml"
    sha = hashlib.sha256((REPO / rel).read_bytes()).hexdigest()
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "INSERT INTO promotions (strategy, target, file_path, file_sha256, git_commit, checks) "
            "VALUES (%s, %s, %s, %s, 'test', '[]') RETURNING id",
            (strategy, target, rel, sha),
        ).fetchone()
    return row[0]


def live_controls(db_url: str, strategies: str = "canary") -> None:
    set_controls(db_url, trading_mode="LIVE", allowed_strategies=strategies, kill_switch="off")


def runner_config(base_url: str, mode: str = "live", **overrides: Any) -> RunnerConfig:
    settings: dict[str, Any] = {
        "mode": mode,
        "venue": "sandbox",
        "sandbox_url": base_url,
        "assets": ("BTC", "ETH"),
        "window_lengths_s": (WINDOW_S,),
        "health_port": free_port(),
        "instance_id": f"test-{mode}-{free_port()}",
        "repo_root": str(REPO),
        "balance_poll_s": 1.0,
        "resolution_poll_s": 1.0,
    }
    settings.update(overrides)
    return RunnerConfig(**settings)


def make_runner(db_url: str, config: RunnerConfig, **venue_settings: Any) -> Runner:
    venue = PolymarketVenue(
        VenueConfig.from_env("sandbox", sandbox_url=config.sandbox_url, env={}, **venue_settings)
    )
    return Runner(config, db_url, venue, alerter=Alerts(db_url))


class Alerts:
    """Collects the runner's alerts in memory (and in `alerts`, like the real alerter)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.raised: list[tuple[str, str, str]] = []

    def raise_(self, kind: str, where: str, happened: str, did: str, detail=None) -> None:
        self.raised.append((kind, where, happened))

    def kinds(self) -> set[str]:
        return {k for k, _, _ in self.raised}


@contextlib.asynccontextmanager
async def running(runner: Runner) -> AsyncIterator[Runner]:
    """Start the runner, run its loops in the background, shut it down on exit."""
    await runner.start()
    task = asyncio.create_task(runner.stopping.wait())
    try:
        yield runner
    finally:
        runner.request_stop()
        await task
        await runner.shutdown()


class LoopThread:
    """A runner kept alive across several tests (a module fixture): its own event loop in a
    background thread. `call(fn)` awaits `fn()` on that loop and returns its result."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="runner", daemon=True)

    def start(self) -> LoopThread:
        self.thread.start()
        self.call(self._start, timeout=60)
        return self

    async def _start(self) -> None:
        real = getattr(self.runner.alerter, "real", None)
        if real is not None:
            await real.start()
        await self.runner.start()

    def call(self, fn: Callable[[], Any], timeout: float = 120) -> Any:
        async def run() -> Any:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def stop(self) -> None:
        async def shutdown() -> None:
            self.runner.request_stop()
            await self.runner.shutdown()
            real = getattr(self.runner.alerter, "real", None)
            if real is not None:
                await real.stop()

        try:
            self.call(shutdown, timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@contextlib.contextmanager
def module_database(admin_url: str, template: str) -> Iterator[str]:
    """A fresh migrated database (from the session template) for a module's shared runner."""
    name = f"updown_m_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield db.with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def window_open_after(length_s: int = WINDOW_S, margin_s: float = 0.0) -> int:
    """Open time (unix s) of the first window opening at least `margin_s` from now."""
    now = time.time() + margin_s
    return (int(now) // length_s + 1) * length_s


async def at_time(unix_s: float) -> None:
    """Sleep until the wall clock reads `unix_s` (window phases are clock times, not events)."""
    await asyncio.sleep(max(0.0, unix_s - time.time()))


def slug_of(asset: str, open_s: int, length_s: int = WINDOW_S) -> str:
    return f"{asset.lower()}-updown-{length_s}s-{open_s}"


def poll(probe: Callable[[], Any], timeout: float, every: float = 0.2, what: str = "") -> Any:
    """`until` for a test thread while the runner runs on its own loop (see LoopThread)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or probe}")
        time.sleep(every)


def health_now(runner: Runner) -> dict:
    """GET /health from a test thread (the runner serves it on its own loop)."""
    return httpx.get(runner.health.url, timeout=3).json()


async def until(probe: Callable[[], Any], timeout: float, every: float = 0.2, what: str = ""):
    """Await until `probe()` is truthy (it may be sync or a coroutine function)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or probe}")
        await asyncio.sleep(every)


def rows(db_url: str, sql: str, *args: Any) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, args).fetchall()


def scalar(db_url: str, sql: str, *args: Any) -> Any:
    found = rows(db_url, sql, *args)
    return found[0][0] if found else None


async def health(runner: Runner) -> dict:
    """GET /health over HTTP (the runner serves it on its own loop: ask asynchronously)."""
    async with httpx.AsyncClient(timeout=3) as client:
        return (await client.get(runner.health.url)).json()


class DbAlerts(Alerts):
    """Like `Alerts`, and also written to the `alerts` table by the real `Alerter` (no channels).
    Start it on the test's loop (`async with alerts.recording():`) before the runner starts."""

    def __init__(self, db_url: str) -> None:
        super().__init__(db_url)
        from live.alerts.alerter import Alerter
        from live.alerts.config import AlertConfig

        self.real = Alerter(db_url, AlertConfig.from_env(env={}))

    def raise_(self, kind: str, where: str, happened: str, did: str, detail=None) -> None:
        super().raise_(kind, where, happened, did, detail)
        self.real.raise_(kind, where, happened, did, detail=detail)

    @contextlib.asynccontextmanager
    async def recording(self) -> AsyncIterator[DbAlerts]:
        await self.real.start()
        try:
            yield self
        finally:
            await self.real.stop()


def make_recorded_runner(db_url: str, config: RunnerConfig, **venue_settings: Any) -> Runner:
    """`make_runner` whose alerts also land in the `alerts` table (see `DbAlerts`)."""
    runner = make_runner(db_url, config, **venue_settings)
    runner.alerter = DbAlerts(db_url)
    return runner


def same_wallet(runner: Runner) -> PolymarketVenue:
    """A second adapter on the runner's own wallet (same key; e.g. to rest a GTC order the
    runner's engine does not know about). Use as `async with same_wallet(runner) as venue:`."""
    return PolymarketVenue(runner.venue.config)


def control_audit(db_url: str, key: str) -> list[tuple[str, str]]:
    """(new_value, changed_by) of every audited change of one control, oldest first."""
    return rows(
        db_url,
        "SELECT new_value, changed_by FROM control_changes WHERE key = %s ORDER BY id",
        key,
    )


def settled_windows(db_url: str, mode: str, run_id: str) -> int:
    """Windows of one engine run whose positions are all closed at a resolution."""
    return rows(
        db_url,
        "SELECT count(DISTINCT window_slug) FROM positions WHERE mode = %s AND run_id = %s "
        "AND state = 'CLOSED' AND resolution IS NOT NULL",
        mode,
        run_id,
    )[0][0]


async def settle_then_pause(db_url: str, runner: Runner, needed: int) -> datetime:
    """Inside `running(runner)`: wait until the primary has `needed` settled windows and each
    copy twice that (two assets per period), pause, let what is open settle and be redeemed,
    and return the pause time (windows closed by then are complete; later ones only hold
    denied signals)."""
    live_run = runner.primary.engine.run_id
    copies = [slot.engine for slot in runner.slots[1:]]

    def enough() -> bool:
        return settled_windows(db_url, "LIVE", live_run) >= needed and all(
            settled_windows(db_url, e.mode.value, e.run_id) >= 2 * needed for e in copies
        )

    await until(enough, timeout=150, every=1.0, what=f"{needed} settled windows per mode")
    paused_at = datetime.now(UTC)
    set_controls(db_url, kill_switch="pause")
    await until(
        lambda: all(
            not list(s.engine.positions.open_positions())
            and not s.engine.ledger.receivables.pending
            for s in runner.slots
        ),
        timeout=60,
        what="open positions settled and redeemed (their cash arrived)",
    )
    await asyncio.sleep(2.5)  # one more balance poll and assertion round after the last
    return paused_at
