"""Issue 15: no synchronous database call on the runner's event loop. A hung server (here: every
table the runner reads or writes on its periodic paths held by an ACCESS EXCLUSIVE lock, so its
queries wait on the server) must not freeze the loop: while the runner's own queries — a new
window's row among them, which the old code wrote on the loop — are seen waiting on that lock,
the loop keeps running: a probe coroutine on it keeps counting, /health (served on the loop)
answers, engine events keep being dispatched. A watchdog thread ends the blocker after 90 s, so
a frozen loop fails the test instead of hanging it."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest
from runner_kit import health, live_controls, make_runner, runner_config, running, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-loop-hang")]

HELD = (
    "runtime_controls",
    "promotions",
    "windows",
    "feed_gaps",
    "market_events",
    "instances",
)


def test_the_loop_keeps_running_while_database_calls_hang(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        runner = make_runner(db_url, runner_config(server.base_url))
        asyncio.run(_drive(db_url, runner))
    finally:
        server.stop()


def _waiting_on_locks(db_url: str, blocker_pid: int) -> int:
    """Backends of this database waiting for a lock the blocker holds (the runner's queries)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND %s = ANY(pg_blocking_pids(pid))",
            (blocker_pid,),
        ).fetchone()[0]


def _terminate(db_url: str, pid: int) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def _drive(db_url: str, runner) -> None:
    probe = {"ticks": 0}

    async def count() -> None:
        while True:
            await asyncio.sleep(0.02)
            probe["ticks"] += 1

    async with running(runner):
        counter = asyncio.create_task(count())
        blocker = await asyncio.to_thread(psycopg.connect, db_url)
        pid = blocker.info.backend_pid
        watchdog = threading.Timer(90, _terminate, (db_url, pid))
        watchdog.start()
        try:
            tables = ", ".join(HELD)
            await asyncio.to_thread(
                blocker.execute, f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"
            )
            writes = runner.windows.writes
            waiting = 0
            for _ in range(600):  # until a new window is listed and its row waits on the lock
                waiting = await asyncio.to_thread(_waiting_on_locks, db_url, pid)
                if waiting and writes.waiting:
                    break
                await asyncio.sleep(0.1)
            assert waiting >= 1 and writes.waiting >= 1, "no window row ever waited on the lock"
            ticks, events = probe["ticks"], runner.events_processed
            served = await health(runner)  # served on the loop, while its queries hang
            for _ in range(50):  # the loop runs on: the probe counts, engine events flow
                await asyncio.sleep(0.1)
                if probe["ticks"] - ticks >= 25 and runner.events_processed > events:
                    break
            still = await asyncio.to_thread(_waiting_on_locks, db_url, pid)
            assert still >= 1 and writes.waiting >= 1  # the queries were still hanging meanwhile
            assert probe["ticks"] - ticks >= 25
            assert runner.events_processed > events
            assert served["instance_id"] == runner.config.instance_id
        finally:
            watchdog.cancel()
            await asyncio.to_thread(blocker.rollback)
            await asyncio.to_thread(blocker.close)
            counter.cancel()
