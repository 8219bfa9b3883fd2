"""The research cache (research/cache.py) on the real recorded files.

Per file: rows, the cache file's size, the write (raw rows → Parquet), a cache hit (Parquet → the
events the loader replays) and, for comparison, reading the file itself (convert + validate).
Then `load_files` of the 1 s top-of-book day with a warm cache and without the cache (the whole
Dataset build). Best of --repeat runs, in a fresh temporary $UPDOWN_HOME.

Usage: .venv/bin/python bench/cache_load.py [--data DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from machine import machine  # noqa: E402

FILES = (
    "btc_15m_top_of_book_1s_2025-12-26.csv.gz",
    "chainlink_btcusd_2026-06-08.csv.gz",
    "gamma_btc_5m_markets_2026-06-08.jsonl.gz",
)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "real")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="updown-bench-cache-") as home:
        os.environ["UPDOWN_HOME"] = home
        run(args.data, args.repeat)


def run(data: Path, repeat: int) -> None:
    from live.journal.codec import parse_event
    from research import cache
    from research.data import load_files
    from research.sources import file_rows

    def events(rows):  # a hit as the loader uses it: payloads built into events
        return [p if not isinstance(p, dict) else parse_event(p) for _, _, _, p in rows]

    print(machine())
    print(f"cache format {cache.VERSION}; best of {repeat}")
    for name in FILES:
        path = data / name
        rows = file_rows(path)
        parsed = getattr(cache, "parsed", lambda rs: rs)(rows)  # what this version writes
        key = cache.file_key(path)
        read_file = best(lambda p=path: file_rows(p), 1)
        write = best(lambda k=key, r=parsed: cache.write(k, r), repeat)
        size = (cache.cache_dir() / f"{key}.parquet").stat().st_size
        hit = best(lambda k=key: events(cache.read(k)), repeat)
        print(
            f"{name}: {len(rows):,} rows, {size / 1e6:.2f} MB; read the file {read_file:.3f} s, "
            f"cache write {write:.3f} s, cache hit to events {hit:.3f} s "
            f"({len(rows) / hit:,.0f} rows/s)"
        )
    tob = data / FILES[0]
    load_files([tob], "2025-12-26")  # warm the cache
    warm = best(lambda: load_files([tob], "2025-12-26"), repeat)
    cold = best(lambda: load_files([tob], "2025-12-26", use_cache=False), 1)
    print(f"load_files {FILES[0]}: warm cache {warm:.3f} s, no cache {cold:.3f} s")


if __name__ == "__main__":
    main()
