"""The off-loop writer (live/runner/offloop.py, issue 15): jobs the event loop asks for run in a
worker thread, in order; a job failing with a database error is retried until it succeeds (its
successors wait behind it); beyond the bound new jobs are refused and counted lost."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from live.runner.offloop import OffLoopWrites


def test_jobs_run_in_order_and_a_failing_one_is_retried_until_it_succeeds(db_url):
    table = f"offloop_{uuid.uuid4().hex[:8]}"

    def insert(value: int) -> None:
        with psycopg.connect(db_url) as conn:  # the table does not exist yet: UndefinedTable
            conn.execute(f"INSERT INTO {table} (v) VALUES (%s)", (value,))

    async def scenario() -> list[int]:
        writes = OffLoopWrites("test", retry_s=0.05)
        writes.submit("first", insert, 1)
        writes.submit("second", insert, 2)
        while writes.failures < 3:  # the first job fails (and is retried) while nothing exists
            await asyncio.sleep(0.02)
        assert writes.waiting == 2 and writes.done == 0
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, v int)")
        await writes.idle()
        assert writes.done == 2 and writes.waiting == 0 and writes.lost == 0
        assert "UndefinedTable" in writes.last_error
        with psycopg.connect(db_url) as conn:
            return [r[0] for r in conn.execute(f"SELECT v FROM {table} ORDER BY id")]

    try:
        assert asyncio.run(scenario()) == [1, 2]
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_beyond_the_bound_new_jobs_are_refused_and_counted_lost(db_url):
    table = f"offloop_{uuid.uuid4().hex[:8]}"
    done: list[int] = []

    def insert(value: int) -> None:
        with psycopg.connect(db_url) as conn:
            conn.execute(f"INSERT INTO {table} (v) VALUES (%s)", (value,))
        done.append(value)

    async def scenario() -> OffLoopWrites:
        writes = OffLoopWrites("test", bound=2, retry_s=0.05)
        for value in (1, 2, 3):
            writes.submit(f"job {value}", insert, value)
        assert writes.waiting == 2 and writes.lost == 1
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, v int)")
        await writes.idle()
        return writes

    try:
        writes = asyncio.run(scenario())
        assert done == [1, 2] and writes.status()["lost"] == 1
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_outside_a_running_loop_the_job_runs_at_once(db_url):
    seen: list[str] = []
    writes = OffLoopWrites("test")
    writes.submit("now", seen.append, "ran")
    assert seen == ["ran"] and writes.done == 1 and writes.waiting == 0


def test_at_a_stop_jobs_the_store_never_took_are_counted_lost(db_url):
    def insert() -> None:
        with psycopg.connect(db_url) as conn:
            conn.execute("INSERT INTO offloop_never_created (v) VALUES (1)")

    async def scenario() -> tuple[int, OffLoopWrites]:
        writes = OffLoopWrites("test", retry_s=0.05)
        writes.submit("never", insert)
        return await writes.close(timeout_s=0.3), writes

    left, writes = asyncio.run(scenario())
    assert left == 1 and writes.lost == 1 and writes.waiting == 0 and writes.failures >= 1
