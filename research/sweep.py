"""Parameter sweeps. Event-driven grid runs (the truth: every cell is a full backtest through the
live engine) are distributed with Dask: `workers=N` starts a LocalCluster of N processes,
`scheduler="tcp://…"` uses an existing cluster (its workers must see the same `$UPDOWN_HOME`).
The data travel as a Parquet file of raw rows in the cache; each worker rebuilds the Dataset once.
Screens (research.screen) run in-process. Every cell of either kind is logged as a trial.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from research import cache
from research.data import Dataset, build_dataset
from research.sources import RawRow
from research.trials import TRIAL_METRICS, log_trial, trial_metrics

METRICS = TRIAL_METRICS  # what each cell reports and logs


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in a stable order."""
    keys = sorted(grid)
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))
    ]


def parse_grid(pairs: Iterable[str]) -> dict[str, list[str]]:
    """`k=v1,v2,...` strings into a grid; ValueError on a malformed one."""
    grid: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not items:
            raise ValueError(f"--param {pair!r}: expected key=v1,v2,...")
        grid[key.strip()] = items
    return grid


def stage_rows(rows: list[RawRow]) -> str:
    """Write the raw rows to the cache; the key is what tasks load."""
    key = cache.key_of("sweep", uuid.uuid4().hex)
    cache.write(key, rows)
    return key


@lru_cache(maxsize=4)
def _dataset(key: str, lo: int, hi: int, assets: tuple[str, ...] | None) -> Dataset:
    rows = cache.read(key)
    if rows is None:
        raise FileNotFoundError(f"sweep data {key} not in {cache.cache_dir()}")
    return build_dataset(rows, lo, hi, assets=assets)


def evaluate_cell(key, lo, hi, assets, strategy, params, fill_model, latency) -> dict[str, Any]:
    """One event-driven backtest (runs on a Dask worker); returns its metrics."""
    from research.backtest import run_backtest

    dataset = _dataset(key, lo, hi, assets)
    result = run_backtest(strategy, dataset, fill_model=fill_model, latency_ms=latency,
                          params=params, run_id="sweep-cell")  # fmt: skip
    return trial_metrics(result)


def _client(workers: int | None, scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(n_workers=max(workers or 1, 1), threads_per_worker=1,
                           processes=True, dashboard_address=None)  # fmt: skip
    return Client(cluster)


def run_grid(
    strategy: str,
    rows: list[RawRow],
    lo: int,
    hi: int,
    grid: Mapping[str, Sequence[Any]],
    *,
    assets: Sequence[str] | None = None,
    fill_model: str = "book",
    latency: Mapping[str, int] | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    conn: Any = None,
) -> tuple[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Run every grid cell event-driven on Dask; log each as a trial; returns (sweep id, cells)."""
    cells = expand_grid(grid)
    from research.backtest import with_params
    from strategies import get_strategy

    base = get_strategy(strategy)
    for cell in cells:  # a bad cell fails here, one line, before any worker starts
        with_params(base, cell)
    key = stage_rows(rows)
    wanted = tuple(sorted(a.upper() for a in assets)) if assets else None
    client = _client(workers, scheduler)
    try:
        futures = client.map(evaluate_cell, [key] * len(cells), [lo] * len(cells),
                             [hi] * len(cells), [wanted] * len(cells), [strategy] * len(cells),
                             cells, [fill_model] * len(cells), [dict(latency or {})] * len(cells),
                             pure=False)  # fmt: skip
        metrics = client.gather(futures)
    finally:
        cluster = client.cluster
        client.close()
        if cluster is not None and not scheduler:
            cluster.close()
    sweep_id = f"sweep-{uuid.uuid4().hex[:12]}"
    out = list(zip(cells, metrics, strict=True))
    if conn is not None:
        _log(conn, sweep_id, "event", strategy, out, lo, hi, fill_model)
    return sweep_id, out


SCREEN_RULE = "always-trade-canary"  # research.screen evaluates the canary's rule
SCREEN_NAMES = (SCREEN_RULE, "canary")


def log_screen(conn: Any, frame, lo: int, hi: int, strategy: str = SCREEN_RULE) -> str:
    """Log every row of a screen frame as a 'screen' trial of the rule the screen evaluates (the
    canary's: issue 17 — a screen run under another name is still the canary's trials);
    returns the sweep id. ValueError when `strategy` is not that rule."""
    if strategy not in SCREEN_NAMES:
        raise ValueError(
            f"the screen evaluates only the {SCREEN_RULE} rule (favourite at an offset before "
            f"close, above a minimum price), not {strategy!r}: its trials are {SCREEN_RULE}'s"
        )
    sweep_id = f"screen-{uuid.uuid4().hex[:12]}"
    params_cols = ["before_close_s", "min_price"]
    cells = []
    for row in frame.to_dict("records"):
        params = {k: row[k] for k in params_cols}
        metrics = {k: (None if v != v else v) for k, v in row.items() if k not in params_cols}
        cells.append((params, metrics))
    _log(conn, sweep_id, "screen", SCREEN_RULE, cells, lo, hi, "screen")
    return sweep_id


def _log(conn, sweep_id, kind, strategy, cells, lo, hi, fill_model) -> None:
    from datetime import UTC, datetime

    from psycopg.types.json import Jsonb

    with conn.transaction():
        conn.execute(
            "INSERT INTO backtest_runs (run_id, kind, mode, strategy, params, data_from, data_to,"
            " fill_model, summary, finished_at) VALUES (%s, 'sweep', 'BACKTEST', %s, %s, %s, %s,"
            " %s, %s, now())",
            (sweep_id, strategy, Jsonb({"kind": kind, "cells": len(cells)}),
             datetime.fromtimestamp(lo / 1000, UTC), datetime.fromtimestamp(hi / 1000, UTC),
             fill_model, Jsonb({"cells": len(cells)})),
        )  # fmt: skip
    for params, metrics in cells:
        log_trial(conn, kind=kind, strategy=strategy, params=params, data_from_ms=lo,
                  data_to_ms=hi, metrics=metrics, run_id=sweep_id)  # fmt: skip
