"""Runner building blocks against real PostgreSQL: the sole-trader lock, the controls watcher
(cache, NOTIFY push, fail-closed) and the market-data recorder (batched, idempotent, counted)."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from live.kernel.controls import KillSwitch
from live.runner.controls_watch import ControlsWatcher
from live.runner.health import HealthServer
from live.runner.lock import SoleTraderLock
from live.runner.recorder import RecordedMessage, Recorder
from live.store import controls as control_store
from live.store.db import make_pool
from tests_support import free_port


@pytest.fixture
def pool(db_url):
    p = make_pool(db_url, min_size=1, max_size=4)
    yield p
    p.close()


def test_only_one_instance_holds_the_trader_lock(db_url):
    first, second = SoleTraderLock(db_url, "a"), SoleTraderLock(db_url, "b")
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.check().role == "trader"
        assert second.check().role == "observer"
    finally:
        first.release()
        second.release()


def test_killing_the_lock_connection_is_seen_at_once(db_url):
    lock = SoleTraderLock(db_url, "a")
    assert lock.acquire()
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (lock.backend_pid(),))
    status = lock.check()
    assert status.held is False and status.role == "observer"
    assert "lost" in status.error
    successor = SoleTraderLock(db_url, "b")
    try:
        assert successor.acquire() is True
    finally:
        successor.release()
        lock.release()


def test_released_lock_can_be_taken_by_another(db_url):
    first = SoleTraderLock(db_url, "a")
    assert first.acquire()
    first.release()
    second = SoleTraderLock(db_url, "b")
    try:
        assert second.acquire()
    finally:
        second.release()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_controls_are_cached_for_at_most_one_second(db_url, pool):
    clock = FakeClock()
    watcher = ControlsWatcher(db_url, pool, clock)
    assert watcher.current().kill_switch == KillSwitch.OFF
    with psycopg.connect(db_url) as conn:
        control_store.write(conn, "kill_switch", "pause", "test")
    clock.now = 0.5
    assert watcher.current().kill_switch == KillSwitch.OFF  # cached
    clock.now = 1.0
    assert watcher.current().kill_switch == KillSwitch.PAUSE


def test_invalid_control_row_fails_closed_to_pause(db_url, pool):
    clock = FakeClock()
    watcher = ControlsWatcher(db_url, pool, clock)
    assert watcher.current().kill_switch == KillSwitch.OFF
    with psycopg.connect(db_url) as conn:  # a row the code cannot parse: one control missing
        conn.execute("DELETE FROM runtime_controls WHERE key = 'max_session_loss'")
    clock.now = 2.0
    snap = watcher.current()
    assert snap.kill_switch == KillSwitch.PAUSE
    assert watcher.failed_closed and "max_session_loss" in watcher.error


def test_unreachable_database_fails_closed_but_keeps_stricter_switch(db_url, pool):
    clock = FakeClock()
    watcher = ControlsWatcher(db_url, pool, clock)
    with psycopg.connect(db_url) as conn:
        control_store.write(conn, "kill_switch", "flatten", "test")
    assert watcher.current().kill_switch == KillSwitch.FLATTEN
    pool.close()
    clock.now = 5.0
    assert watcher.current().kill_switch == KillSwitch.FLATTEN  # never relaxed to pause
    assert watcher.failed_closed


def test_notify_pushes_a_change_without_waiting_for_the_cache(db_url, pool):
    async def scenario():
        clock = FakeClock()  # frozen: only the NOTIFY path can refresh
        watcher = ControlsWatcher(db_url, pool, clock)
        seen = asyncio.Event()
        watcher.on_change = lambda snap: snap.kill_switch == KillSwitch.EMERGENCY and seen.set()
        await watcher.start()
        await asyncio.sleep(0.2)
        with psycopg.connect(db_url) as conn:
            control_store.write(conn, "kill_switch", "emergency", "test")
        await asyncio.wait_for(seen.wait(), 2.0)
        assert watcher.current().kill_switch == KillSwitch.EMERGENCY
        await watcher.stop()

    asyncio.run(scenario())


def msg(ts, key, source="clob", token="t1"):
    return RecordedMessage(ts, ts + 5, source, "book", {"k": key}, key, "BTC", "s", token)


def test_recorder_writes_batches_and_ignores_redelivered_messages(db_url, pool):
    rec = Recorder(pool)
    assert rec.add(msg(1000, "a")) and rec.add(msg(2000, "b"))
    assert rec.add(msg(2000, "b")) is False  # duplicate in memory
    assert rec.flush(now_ms=3000) == 2
    fresh = Recorder(pool)  # a restarted recorder re-receives the same message
    fresh.add(msg(2000, "b"))
    fresh.add(msg(3000, "c"))
    fresh.flush(now_ms=4000)
    with psycopg.connect(db_url) as conn:
        keys = [r[0] for r in conn.execute("SELECT dedup_key FROM market_events ORDER BY ts")]
    assert keys == ["a", "b", "c"]
    assert rec.stats()["clob"]["duplicates"] == 1


def test_recorder_counts_out_of_order_messages(pool):
    rec = Recorder(pool)
    for ts, key in [(1000, "a"), (3000, "b"), (2000, "c"), (4000, "d")]:
        rec.add(msg(ts, key))
    assert rec.stats()["clob"]["out_of_order"] == 1


def test_failed_flush_is_retried_once_then_kept_up_to_the_bound_and_the_rest_counted_lost(
    db_url, pool
):
    rec = Recorder(pool, max_buffer=2)
    rec.add(msg(1000, "a"))
    rec.add(msg(2000, "b"))
    pool.close()  # a real fault: the database is unreachable for both attempts
    assert rec.flush(now_ms=3000) == 0
    assert rec.flush_failures == 2
    assert rec.stats()["clob"]["lost"] == 0 and rec.stats()["clob"]["buffered"] == 2
    rec.add(msg(3000, "c"))  # beyond the bound while the store is away: counted lost
    assert rec.pending() == 2
    assert rec.stats()["clob"]["lost"] == 1 and rec.stats()["clob"]["received"] == 3


def test_flush_succeeds_on_retry_after_one_failure(db_url, pool, monkeypatch):
    rec = Recorder(pool)
    real = rec.write_batch
    attempts = []

    def flaky(batch):
        attempts.append(1)
        if len(attempts) == 1:
            raise psycopg.OperationalError("transient")
        real(batch)

    monkeypatch.setattr(rec, "write_batch", flaky)  # a transient fault we cannot provoke
    rec.add(msg(1000, "a"))
    assert rec.flush(now_ms=2000) == 1
    assert rec.stats()["clob"] == {
        "received": 1,
        "duplicates": 0,
        "out_of_order": 0,
        "written": 1,
        "lost": 0,
        "buffered": 0,
    }


def test_health_endpoint_serves_status_and_self_checks():
    async def scenario():
        state = {"status": "ok", "trading_state": "ACTIVE"}
        server = HealthServer(lambda: state, port=free_port())
        await server.start()
        try:
            assert await server.self_check()
            async with httpx.AsyncClient() as client:
                body = (await client.get(server.url)).json()
            assert body == state
        finally:
            await server.stop()
        assert not await server.self_check(timeout=0.5)

    asyncio.run(scenario())
