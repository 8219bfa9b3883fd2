"""Research throughput on the 1 s BTC 15m top-of-book day.

1. Full-engine backtest (research.run_backtest: the live engine in BACKTEST, book-walk fills):
   events/s on one core. Target >= 250,000.
2. The screen's (window, parameter) evaluations/s, the day repeated 20x with 100 entry offsets:
   the window-level numpy formulation the sweep's SCREEN uses (target >= 1,000,000/s), and
   vectorbt's Portfolio.from_signals over per-tick arrays (reported for comparison; first-call
   compilation timed separately).

Usage: .venv/bin/python bench/replay_throughput.py [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from machine import machine  # noqa: E402

from research.backtest import run_backtest  # noqa: E402
from research.data import load_files  # noqa: E402
from research.screen import WindowFeatures, favourite_returns, window_features  # noqa: E402

TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"
REPEAT, OFFSETS = 20, 100


def engine_rate(dataset, repeat: int = 3) -> tuple[float, int]:
    best = min(_timed(lambda: run_backtest("canary", dataset)) for _ in range(repeat))
    return len(dataset.items) / best, len(dataset.items)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def tiled(f: WindowFeatures, n: int) -> WindowFeatures:
    return WindowFeatures(
        f.slugs * n,
        f.offsets_s,
        np.tile(f.up_ask, (n, 1)),
        np.tile(f.down_ask, (n, 1)),
        np.tile(f.up_value, (n, 1)),
        np.tile(f.up_won, n),
    )


def screen_rate(dataset) -> tuple[float, int]:
    f = tiled(window_features(dataset, np.arange(1, OFFSETS + 1) * 6), REPEAT)
    mins = np.array([0.5])
    cells = len(f.slugs) * OFFSETS
    best = min(_timed(lambda: favourite_returns(f, mins).sum(axis=0)) for _ in range(5))
    return cells / best, cells


def vectorbt_rate(dataset) -> tuple[float, int, float]:
    import vectorbt as vbt

    f = window_features(dataset, np.arange(0, 900))  # a per-second Up ask path per window
    close = np.nan_to_num(f.up_ask.T[::-1], nan=0.5)  # rows: time, columns: windows
    cols = np.repeat(close, OFFSETS, axis=1)
    entries = np.zeros_like(cols, dtype=bool)
    for k in range(OFFSETS):
        entries[900 - (k + 1) * 6, k::OFFSETS] = True
    exits = np.zeros_like(entries)
    exits[-1] = True
    full = lambda: vbt.Portfolio.from_signals(cols, entries, exits).total_return()  # noqa: E731
    first = _timed(full)  # includes numba compilation
    run = _timed(full)
    compile_s = first - run
    return cols.shape[1] / run, cols.shape[1], compile_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "real")
    args = parser.parse_args()
    print(machine())
    dataset = load_files([args.data / TOB], "2025-12-26", use_cache=False)
    rate, events = engine_rate(dataset)
    print(
        f"full-engine backtest (canary, book fills): {events:,} events, {rate:,.0f} events/s "
        f"(target 250,000: {'met' if rate >= 250_000 else 'NOT met'})"
    )
    rate, cells = screen_rate(dataset)
    print(
        f"screen, window-level numpy ({REPEAT}x day, {OFFSETS} offsets): {cells:,} cells, "
        f"{rate:,.0f} evaluations/s (target 1,000,000: {'met' if rate >= 1e6 else 'NOT met'})"
    )
    rate, cells, compile_s = vectorbt_rate(dataset)
    print(
        f"vectorbt Portfolio.from_signals over per-tick arrays (1x day, {OFFSETS} offsets): "
        f"{cells:,} cells, {rate:,.0f} evaluations/s; first call {compile_s:.1f} s"
    )
    print(
        "the sweep uses: the window-level numpy formulation for the SCREEN grid cells, "
        "vectorbt's returns accessor for per-parameter Sharpe / drawdown of the screen, and "
        "the full engine (Dask) for event-driven grid cells"
    )


if __name__ == "__main__":
    main()
