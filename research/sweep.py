"""Parameter sweeps. Event-driven grid runs (the truth: every cell is a full backtest through the
live engine) are distributed with Dask: `workers=N` starts a LocalCluster of N processes (default:
the cores available to this process); `scheduler="tcp://…"` or `scheduler_file=PATH` uses an
existing cluster. The raw rows reach the workers through the Dask client (`scatter`, broadcast to
every worker), never as a file path, so workers need no shared disk or `$UPDOWN_HOME`; each worker
rebuilds the Dataset once per sweep. Every finished cell is logged as a trial the moment it
returns; a failing cell is logged with its error (`metrics.error`) and the others continue.
Screens (research.screen) run in-process.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from research.data import Dataset, build_dataset
from research.sources import RawRow
from research.trials import METRIC_UNITS, TRIAL_METRICS, log_trial, trial_metrics

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


def available_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # macOS / Windows
        return max(os.cpu_count() or 1, 1)


_DATASETS: OrderedDict[tuple, Dataset] = OrderedDict()  # per worker process, a few sweeps deep


def _dataset(token: str, rows: list[RawRow], lo: int, hi: int, assets) -> Dataset:
    key = (token, lo, hi, assets)
    if key not in _DATASETS:
        _DATASETS[key] = build_dataset(rows, lo, hi, assets=assets)
        while len(_DATASETS) > 2:
            _DATASETS.popitem(last=False)
    return _DATASETS[key]


def evaluate_cell(token, rows, lo, hi, assets, strategy, params, fill_model, latency):
    """One event-driven backtest (runs on a Dask worker; `rows` is the scattered raw data);
    returns its trial metrics."""
    from research.backtest import run_backtest

    dataset = _dataset(token, rows, lo, hi, assets)
    result = run_backtest(strategy, dataset, fill_model=fill_model, latency_ms=latency,
                          params=params, run_id="sweep-cell")  # fmt: skip
    return trial_metrics(result)


def connect(workers: int | None = None, scheduler: str | None = None,
            scheduler_file: str | None = None):  # fmt: skip
    """A Dask client: an existing cluster by address or scheduler file, else a LocalCluster of
    `workers` processes (default: available cores) with its dashboard on a free port."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    if scheduler_file:
        return Client(scheduler_file=scheduler_file)
    cluster = LocalCluster(n_workers=max(workers or available_cores(), 1), threads_per_worker=1,
                           processes=True, dashboard_address=":0")  # fmt: skip
    return Client(cluster)


@dataclass
class GridRun:
    """A finished grid: its id and, per cell in grid order, (params, metrics); a failed cell's
    metrics are `{"error": "<type>: <message>"}`."""

    sweep_id: str
    cells: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    dashboard: str | None = None

    def __iter__(self):  # `sweep_id, cells = run_grid(...)` keeps working
        return iter((self.sweep_id, self.cells))

    @property
    def failed(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(p, m) for p, m in self.cells if "error" in m]


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
    workers: int | None = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    client: Any = None,
    conn: Any = None,
    evaluate: Callable[..., dict[str, Any]] = evaluate_cell,
    on_start: Callable[[str, str | None, int], None] | None = None,
    on_cell: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
) -> GridRun:
    """Run every grid cell event-driven on Dask; log each as a trial as soon as it finishes.

    `on_start(sweep_id, dashboard_url, n_cells)` is called once the cluster is up, `on_cell(params,
    metrics)` after each cell is logged (the CLI's progress bar). Raises ParamError (before any
    worker starts) on a cell the strategy's parameter model refuses."""
    cells = expand_grid(grid)
    from research.backtest import with_params
    from strategies import get_strategy

    base = get_strategy(strategy)
    for cell in cells:  # a bad cell fails here, one line, before any worker starts
        with_params(base, cell)
    wanted = tuple(sorted(a.upper() for a in assets)) if assets else None
    run = GridRun(f"sweep-{uuid.uuid4().hex[:12]}")
    own = client is None
    client = client or connect(workers, scheduler, scheduler_file)
    try:
        run.dashboard = getattr(client, "dashboard_link", None)
        if conn is not None:
            _log_run(conn, run.sweep_id, "event", strategy, grid, len(cells), lo, hi, fill_model)
        if on_start is not None:
            on_start(run.sweep_id, run.dashboard, len(cells))
        # one future for the whole list (scattering a list directly makes one per row)
        [data] = client.scatter([rows], broadcast=True, hash=False)
        token = uuid.uuid4().hex
        futures = {
            client.submit(evaluate, token, data, lo, hi, wanted, strategy, cell, fill_model,
                          dict(latency or {}), pure=False): i
            for i, cell in enumerate(cells)
        }  # fmt: skip
        results: dict[int, dict[str, Any]] = {}
        from dask.distributed import as_completed

        for future in as_completed(futures):
            i = futures[future]
            metrics = _outcome(future)
            results[i] = metrics
            if conn is not None:
                log_trial(conn, kind="event", strategy=strategy, params=cells[i],
                          data_from_ms=lo, data_to_ms=hi, metrics=metrics,
                          run_id=run.sweep_id)  # fmt: skip
            if on_cell is not None:
                on_cell(cells[i], metrics)
            future.release()
    finally:
        if own:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    run.cells = [(cells[i], results[i]) for i in range(len(cells))]
    if conn is not None:
        _finish_run(conn, run)
    return run


def _outcome(future) -> dict[str, Any]:
    """A cell's metrics, or its error: a failing cell is a result, not the sweep's end."""
    if future.status == "error":
        exc = future.exception()
        return {"error": f"{type(exc).__name__}: {exc}"}
    return future.result()


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
        metrics["units"] = {k: METRIC_UNITS[k] for k in ("pnl", "max_drawdown", "sharpe")}
        cells.append((params, metrics))
    grid = {k: sorted({p[k] for p, _ in cells}) for k in params_cols}
    _log_run(conn, sweep_id, "screen", SCREEN_RULE, grid, len(cells), lo, hi, "screen")
    for params, metrics in cells:
        log_trial(conn, kind="screen", strategy=SCREEN_RULE, params=params, data_from_ms=lo,
                  data_to_ms=hi, metrics=metrics, run_id=sweep_id)  # fmt: skip
    _finish_run(conn, GridRun(sweep_id, cells))
    return sweep_id


def _log_run(conn, sweep_id, kind, strategy, grid, n_cells, lo, hi, fill_model) -> None:
    from datetime import UTC, datetime

    from psycopg.types.json import Jsonb

    from research.trials import plain

    with conn.transaction():
        conn.execute(
            "INSERT INTO backtest_runs (run_id, kind, mode, strategy, params, data_from, data_to,"
            " fill_model, summary) VALUES (%s, 'sweep', 'BACKTEST', %s, %s, %s, %s, %s, %s)",
            (sweep_id, strategy, plain({"kind": kind, "cells": n_cells, "grid": dict(grid)}),
             datetime.fromtimestamp(lo / 1000, UTC), datetime.fromtimestamp(hi / 1000, UTC),
             fill_model, Jsonb({"cells": n_cells, "done": 0})),
        )  # fmt: skip


def _finish_run(conn, run: GridRun) -> None:
    from psycopg.types.json import Jsonb

    summary = {"cells": len(run.cells), "done": len(run.cells), "failed": len(run.failed)}
    with conn.transaction():
        conn.execute(
            "UPDATE backtest_runs SET summary = %s, finished_at = now() WHERE run_id = %s",
            (Jsonb(summary), run.sweep_id),
        )
