"""The runner's record writer (live/runner/persist.py): a flush whose caller is cancelled (the tick
loop stopped at shutdown) still finishes its write before the next one starts, on a real
PostgreSQL: the worker thread cannot be stopped, so two writes sharing one connection, or a failed
write whose batch nobody re-queues, must be impossible."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import psycopg

from live.kernel import records
from live.kernel.domain import Mode
from live.runner.persist import EnginePersistence

RUN = "run-persist-test"
T0 = 1_796_000_000_000


def _balances(conn: psycopg.Connection) -> list[Decimal]:
    return [r[0] for r in conn.execute("SELECT usd FROM balances WHERE run_id = %s ORDER BY id",
                                       (RUN,))]  # fmt: skip


def test_a_cancelled_flush_finishes_before_the_next_write_and_loses_nothing(db_url):
    writer = EnginePersistence(db_url, RUN, Mode.PAPER, "canary", ["BTC"])
    real_write, inside, overlap = writer._write, threading.Semaphore(1), []
    started = threading.Event()

    def slow_write(batch):  # the real write, made slow, noting any overlap
        if not inside.acquire(blocking=False):
            overlap.append(len(batch))
            real_write(batch)
            return
        try:
            started.set()
            time.sleep(0.5)
            real_write(batch)
        finally:
            inside.release()

    writer._write = slow_write

    async def scenario():
        writer.add([records.BalanceRecord(T0, Mode.PAPER, RUN, "engine", Decimal("100"))])
        first = asyncio.create_task(writer.flush())
        await asyncio.to_thread(started.wait, 5)
        first.cancel()  # the tick loop cancelled mid-write
        writer.add([records.BalanceRecord(T0 + 1, Mode.PAPER, RUN, "engine", Decimal("99"))])
        await writer.close({"note": "test"})  # flushes the rest, then finishes the run

    asyncio.run(scenario())
    assert overlap == []
    with psycopg.connect(db_url) as conn:
        assert _balances(conn) == [Decimal("100"), Decimal("99")]
