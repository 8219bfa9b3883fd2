"""Engine throughput on a real day: events per second through `Engine.process`.

Input: the 2026-06-08 Chainlink ticks and Gamma windows plus the 2025-12-26 1 s top-of-book file
(its own 15-minute windows and books), converted to journals, merged by ts, replayed with the
canary and an SL/TP strategy (canary-exit-c: stop 5 %, take-profit 20 %). Reports engine-only
events/s (events already parsed), end-to-end events/s (journal parsing included), the machine,
and a cProfile summary of where the engine's time goes. Target: >= 250,000 events/s, one core.

Usage: .venv/bin/python bench/engine_throughput.py [--repeat N] [--data DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import machine  # noqa: E402

from live.convert import convert_to_journal  # noqa: E402
from live.journal.reader import read_journal  # noqa: E402
from live.journal.replay import build_engine  # noqa: E402
from live.kernel.events import kind_of  # noqa: E402

STRATEGIES = "canary,canary-exit-c"
TARGET = 250_000
SOURCES = (
    ("chainlink", "chainlink_btcusd_2026-06-08.csv.gz", "oracle.jsonl"),
    ("gamma-markets", "gamma_btc_5m_markets_2026-06-08.jsonl.gz", "windows.jsonl"),
    ("top-of-book", "btc_15m_top_of_book_1s_2025-12-26.csv.gz", "books.jsonl"),
)


def convert_all(data: Path, out: Path) -> list[Path]:
    paths = []
    for fmt, name, target in SOURCES:
        # The top-of-book file states no fee rate; 0.07 is the crypto rate of the Gamma day.
        fee = "0.07" if fmt == "top-of-book" else None
        convert_to_journal(fmt, data / name, out / target, asset="BTC", tz="UTC", fee_rate=fee)
        paths.append(out / target)
    return paths


def run_engine(events: list) -> tuple[float, int]:
    engine = build_engine(STRATEGIES)
    process, take = engine.process, engine.take_records
    records = 0
    start = time.perf_counter()
    for event in events:
        process(event)
        if engine.records:
            records += len(take())
    return time.perf_counter() - start, records


def run_end_to_end(paths: list[Path]) -> float:
    engine = build_engine(STRATEGIES)
    process, take = engine.process, engine.take_records
    start = time.perf_counter()
    for event in read_journal(paths):
        process(event)
        if engine.records:
            take()
    return time.perf_counter() - start


def profile(events: list, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run_engine(events)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    lines = [x for x in stream.getvalue().splitlines() if x.strip()]
    start = next(i for i, x in enumerate(lines) if x.lstrip().startswith("ncalls"))
    return "\n".join(lines[start:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "real")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = convert_all(args.data, Path(tmp))
        t1 = time.perf_counter()
        events = list(read_journal(paths))
        t2 = time.perf_counter()
        kinds = Counter(kind_of(e) for e in events)
        print(f"events: {len(events)} ({', '.join(f'{k}={n}' for k, n in sorted(kinds.items()))})")
        print(
            f"convert: {t1 - t0:.2f} s; parse+merge: {t2 - t1:.2f} s "
            f"({len(events) / (t2 - t1):,.0f} events/s)"
        )
        runs = [run_engine(events) for _ in range(args.repeat)]
        best, records = min(runs)
        rate = len(events) / best
        print(
            f"engine only ({STRATEGIES}): best of {args.repeat}: {best:.3f} s, "
            f"{rate:,.0f} events/s, {records} records; target {TARGET:,}: "
            f"{'met' if rate >= TARGET else 'NOT met'}"
        )
        e2e = min(run_end_to_end(paths) for _ in range(args.repeat))
        print(f"end to end (parse + engine): {e2e:.3f} s, {len(events) / e2e:,.0f} events/s")
        print(f"profile of one engine-only run (top {args.top} by own time):")
        print(profile(events, args.top))


if __name__ == "__main__":
    main()
