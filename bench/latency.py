"""Runner latency and recorder throughput (issue 5's benchmarks). Prints figures; not a test.

1. Decision latency: one event into the runner's dispatch (`Runner.dispatch_to`: engine, risk,
   order build, command routing) until the PlaceOrder reaches the order gateway's `submit`,
   in-process, LIVE engine. Two triggers: the canary's T−60 s timer tick, and a scripted
   signal line. Target p99 ≤ 1 ms.
2. Control reaction: `kill_switch` written to the DB (committed from another connection) until
   the primary engine's trading state changed, on a running runner (PAPER, sandbox venue):
   trigger → NOTIFY → LISTEN connection → ControlsWatcher → ControlApplier.apply → engine.
   Target p99 ≤ 200 ms.
3. Recorder ingest: messages/s through `live/runner/recorder.py` (batched COPY, dedup insert)
   into PostgreSQL, then counted back in `market_events`: zero loss required. Target ≥ 20,000/s.
   The runner flushes once per 250 ms tick whatever is pending (5,000 messages at 20,000/s).

Database: UPDOWN_DATABASE_URL, else the embedded server; a scratch database is created and
dropped. Usage: .venv/bin/python bench/latency.py [--decisions N] [--controls N] [--messages N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import psycopg  # noqa: E402
from machine import machine  # noqa: E402

from live.kernel.commands import PlaceOrder  # noqa: E402
from live.kernel.controls import Controls  # noqa: E402
from live.kernel.domain import Mode, Outcome  # noqa: E402
from live.kernel.engine import Engine, EngineConfig  # noqa: E402
from live.kernel.events import BalanceReport, OrderReject, SignalLine, Timer  # noqa: E402
from live.runner.config import RunnerConfig  # noqa: E402
from live.runner.recorder import RecordedMessage, Recorder  # noqa: E402
from live.runner.runner import EngineSlot, Runner  # noqa: E402
from live.store import db, migrate  # noqa: E402
from strategies import resolve  # noqa: E402

OPEN = 1_780_000_000_000
LENGTH_MS = 300_000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, values_ms: list[float], target_ms: float) -> None:
    p50, p99 = pct(values_ms, 0.50), pct(values_ms, 0.99)
    verdict = "met" if p99 <= target_ms else "NOT met"
    print(
        f"{name}: n={len(values_ms)} p50={p50:.3f} ms p99={p99:.3f} ms max={max(values_ms):.3f} ms"
        f" mean={statistics.fmean(values_ms):.3f} ms; target p99 <= {target_ms:g} ms: {verdict}"
    )


# ---------------------------------------------------------------- 1. decision latency


class _Gateway:
    """Stands in for the order gateway: notes when a PlaceOrder arrives."""

    def __init__(self) -> None:
        self.placed: list[tuple[int, PlaceOrder]] = []

    def submit(self, command) -> None:
        if isinstance(command, PlaceOrder):
            self.placed.append((time.perf_counter_ns(), command))


class _NoPersist:
    def add(self, records) -> None:
        pass


def _window(i: int, asset: str = "BTC"):
    from engine_kit import window  # the tests' builder: a 5-minute window

    return window(asset, open_ts=OPEN + i * LENGTH_MS)


def decision_latency(n: int, strategy: str) -> list[float]:
    from engine_kit import listed, two_sided

    config = RunnerConfig(mode="live", venue="sandbox", sandbox_url="http://x", instance_id="b")
    runner = Runner(config, "", venue=None)
    runner.gateway = _Gateway()
    engine = Engine(
        EngineConfig(
            mode=Mode.LIVE,
            strategies=resolve([strategy]),
            run_id="bench",
            controls=Controls(allowed_strategies=None).with_value("trading_mode", "LIVE"),
            promoted=lambda name: True,
        )
    )
    slot = EngineSlot("primary", engine, _NoPersist(), venue_orders=True)
    runner.slots.append(slot)
    dispatch = runner.dispatch_to
    dispatch(slot, BalanceReport(OPEN - 120_000, Decimal("1000000")))
    out: list[float] = []
    for i in range(n):
        w = _window(i)
        dispatch(slot, listed(w))
        for event in two_sided(w.open_ts + 1_000, w, 0.61, 0.63):
            dispatch(slot, event)
        if strategy == "scripted":
            trigger = SignalLine(w.close_ts - 60_000, w.slug, Outcome.UP, Decimal("1"))
        else:
            trigger = Timer(w.close_ts - 60_000)
        placed = len(runner.gateway.placed)
        t0 = time.perf_counter_ns()
        dispatch(slot, trigger)
        if len(runner.gateway.placed) != placed + 1:
            raise RuntimeError(f"no order for window {i}: {engine.take_records()[-3:]}")
        t1, command = runner.gateway.placed[-1]
        out.append((t1 - t0) / 1e6)
        # the venue refuses it (untimed): the order is final and the next window is clean
        dispatch(slot, OrderReject(w.close_ts - 59_000, command.order.client_order_id, "bench"))
        dispatch(slot, Timer(w.close_ts + 1))
    return out


# ---------------------------------------------------------------- 2. control reaction


async def _control_reaction(url: str, n: int, pushed: bool = True) -> list[float]:
    from runner_kit import make_runner, runner_config, start_sandbox

    server = start_sandbox()
    runner = make_runner(url, runner_config(server.base_url, mode="paper"))
    out: list[float] = []
    try:
        await runner.start()
        if not pushed:  # the watcher still refreshes on NOTIFY; engines see it at the next tick
            runner.controls.on_change = None
        engine = runner.primary.engine
        writer = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            for i in range(n):
                value, wanted = ("pause", "PAUSED") if i % 2 == 0 else ("off", "ACTIVE")
                t0 = time.perf_counter()
                await writer.execute(
                    "UPDATE runtime_controls SET value = %s, updated_by = 'bench' "
                    "WHERE key = 'kill_switch'",
                    (value,),
                )
                while str(engine.trading_state) != wanted:
                    await asyncio.sleep(0.0005)
                    if time.perf_counter() - t0 > 5:
                        raise RuntimeError(f"trading state never became {wanted}")
                out.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.02)
        finally:
            await writer.close()
    finally:
        runner.request_stop()
        await runner.shutdown()
        server.stop()
    return out


# ---------------------------------------------------------------- 3. recorder ingest


def recorder_ingest(url: str, n: int, batch: int) -> tuple[float, int, dict]:
    from live.store.db import make_pool

    pool = make_pool(url, min_size=1, max_size=2)
    recorder = Recorder(pool, batch_size=batch)
    now = int(time.time() * 1000)
    messages = [
        RecordedMessage(
            ts_ms=now + i,
            recv_ms=now + i + 3,
            source="market",
            kind="book" if i % 3 else "price_change",
            payload={
                "asset_id": f"tok{i % 8}",
                "bids": [["0.61", "120"]],
                "asks": [["0.63", "80"]],
            },
            dedup_key=f"bench-{i}",
            asset="BTC",
            slug=f"btc-updown-5m-{now // 300_000}",
            token_id=f"tok{i % 8}",
        )
        for i in range(n)
    ]
    start = time.perf_counter()
    for m in messages:
        recorder.add(m)
        if recorder.pending() >= batch:
            recorder.flush(now)
    recorder.flush(now)
    took = time.perf_counter() - start
    with pool.connection() as conn:
        stored = conn.execute(
            "SELECT count(*) FROM market_events WHERE source = 'market' "
            "AND dedup_key LIKE 'bench-%%'"
        )
        count = stored.fetchone()[0]
    pool.close()
    return n / took, count, recorder.stats()["market"]


# ---------------------------------------------------------------- main


@contextmanager
def scratch_database():
    admin = os.environ.get(db.ENV_URL) or db.embedded_url(REPO / ".updown")
    name = f"updown_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()[0]
    url = db.with_database(admin, name)
    try:
        migrate.migrate(url)
        yield url, version
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--controls", type=int, default=200)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument(
        "--batch",
        default="500,5000",
        help="flush sizes: the runner flushes what is pending once per 250 ms tick, so at "
        "20,000 msg/s each flush carries 5,000; 500 shows the cost of small flushes",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(machine())
    for strategy, name in (("canary", "T-60 s timer tick"), ("scripted", "signal line")):
        decision_latency(200, strategy)  # warm-up
        values = decision_latency(args.decisions, strategy)
        report(f"decision latency ({strategy}, {name} -> PlaceOrder)", values, 1.0)
    with scratch_database() as (url, version):
        print(f"postgresql {version} at {db.mask_url(url)}")
        values = asyncio.run(_control_reaction(url, args.controls))
        report("control reaction (DB write -> engine trading state)", values, 200.0)
        values = asyncio.run(_control_reaction(url, max(20, args.controls // 5), pushed=False))
        report("  for comparison, applied only at the next 250 ms tick", values, 200.0)
        for batch in (int(b) for b in args.batch.split(",")):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DELETE FROM market_events WHERE dedup_key LIKE 'bench-%'")
            rate, stored, counters = recorder_ingest(url, args.messages, batch)
            lost = args.messages - stored
            print(
                f"recorder ingest: {args.messages:,} messages, batch {batch}: {rate:,.0f} msg/s; "
                f"stored {stored:,}, lost {lost} (counters {counters}); target >= 20,000 msg/s "
                f"with zero loss: {'met' if rate >= 20_000 and lost == 0 else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
