"""Issue 15, database faults: the runner's record connection is killed and the server refuses new
connections (the sole-trader lock's connection survives, as a brief outage would leave it): no
new entries while the records cannot be written (breaker, alert), nothing lost, and once the
store is back the venue is reconciled before entries resume."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from runner_kit import (
    health,
    live_controls,
    make_runner,
    promote,
    rows,
    runner_config,
    running,
    start_sandbox,
    until,
)

from live.runner.store_guard import STORE_TRIP

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-db-outage")]


def test_no_entries_while_the_store_is_unreachable_and_reconciled_after(db_url, pg_admin_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        promote(db_url, "always-trade-canary", "canary")
        runner = make_runner(db_url, runner_config(server.base_url))
        asyncio.run(_drive(db_url, pg_admin_url, runner))
    finally:
        server.stop()


async def _drive(db_url: str, admin_url: str, runner) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    async with running(runner):
        assert (await health(runner))["lock"]["role"] == "trader"
        persist = runner.primary.persist
        lock_pid = runner.lock.backend_pid()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            try:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> %s",
                    (dbname, lock_pid),
                )
                breaker = runner.primary.engine.breaker
                await until(lambda: breaker.tripped, timeout=30, what="the store trip")
                assert STORE_TRIP in breaker.reasons and persist.failing
                assert "breaker_tripped" in runner.alerter.kinds()
                sent = runner.gateway.sent
                decided = len(runner.primary.engine.entries.approved)
                await until(
                    lambda: persist.pending > 0, timeout=30, what="records waiting for the store"
                )
                assert runner.gateway.sent == sent  # no new entries while it is down
                assert len(runner.primary.engine.entries.approved) == decided
            finally:
                admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        # The store trip is lifted only after the venue was reconciled again. (The controls
        # were unreadable meanwhile: they failed closed to `pause`, a separate rule that an
        # operator lifts with `updown control resume`.)
        await until(lambda: not breaker.tripped, timeout=30, what="the store trip lifted")
        assert not persist.failing and persist.failures >= 1
        assert runner.reconciliation["ok"] is True
        assert runner.store_guard.outages == 1
        assert rows(db_url, "SELECT count(*) FROM reconciliation_runs WHERE ok")[0][0] >= 2


def test_pool_above_80_percent_raises_db_pool_high_once_per_episode(db_url):
    from live.runner.store_guard import StoreGuard
    from live.store.db import make_pool

    raised: list[tuple] = []
    pool = make_pool(db_url, min_size=1, max_size=2)
    guard = StoreGuard([], pool, lambda *a, **kw: raised.append(a), None, lambda: 0, "test")
    try:
        with pool.connection(), pool.connection():
            guard._check_pool()
            guard._check_pool()
        assert [a[0] for a in raised] == ["db_pool_high"] and "100%" in raised[0][2]
        guard._check_pool()
        assert not guard.pool_high
    finally:
        pool.close()


def test_a_stuck_write_hits_the_timeout_is_alerted_and_entries_wait(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        config = runner_config(server.base_url, db_statement_timeout_s=1.0)
        runner = make_runner(db_url, config)
        asyncio.run(_stuck(db_url, runner))
    finally:
        server.stop()


async def _stuck(db_url: str, runner) -> None:
    async with running(runner):
        breaker, persist = runner.primary.engine.breaker, runner.primary.persist
        with psycopg.connect(db_url) as blocker:  # holds the table: every insert into it waits
            blocker.execute("LOCK TABLE assertion_results IN ACCESS EXCLUSIVE MODE")
            await until(lambda: persist.timeouts >= 1, timeout=30, what="a statement timeout")
            assert "QueryCanceled" in persist.last_error
            await until(lambda: breaker.tripped, timeout=10, what="the store trip")
            assert "query_timeout" in runner.alerter.kinds()
            blocker.rollback()
        await until(lambda: not breaker.tripped, timeout=30, what="the store trip lifted")
        assert not persist.failing
