"""A sweep's cells as a table: ranked by an objective with a minimum-trades filter, written as
CSV or Parquet, listed and reopened from the DB (`updown sweep ls | show`), and a heatmap of any
two parameters. Cells come from `trials` (one row per cell, run_id = the sweep's id)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

OBJECTIVES = ("pnl_net", "sharpe", "win_rate", "trades", "pnl_gross")  # higher is better
LOWER_IS_BETTER = ("max_drawdown",)


class SweepNotFound(LookupError):
    """No sweep with that id in backtest_runs."""


def frame_of(cells: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> pd.DataFrame:
    """One row per cell: the parameters (prefixed `param.`-free, as named by the strategy), the
    scalar metrics, and `error` (None when the cell ran). Per-window series are left out."""
    rows = []
    for params, metrics in cells:
        row = dict(params)
        row.update({k: v for k, v in metrics.items() if not isinstance(v, list | dict)})  # no units
        row.setdefault("error", None)
        rows.append(row)
    return pd.DataFrame(rows)


def ranked(frame: pd.DataFrame, objective: str = "pnl_net", min_trades: int = 0) -> pd.DataFrame:
    """Cells that ran and made at least `min_trades` trades, best first by `objective` (max
    drawdown: smallest first). ValueError naming the objective when the frame lacks it."""
    if objective not in frame.columns:
        have = sorted(set(frame.columns) & set(OBJECTIVES + LOWER_IS_BETTER))
        raise ValueError(f"--objective {objective!r}: not a metric of this sweep (one of {have})")
    ok = frame[frame["error"].isna()]
    if "trades" in ok.columns:
        ok = ok[ok["trades"].fillna(0) >= min_trades]
    ascending = objective in LOWER_IS_BETTER
    return ok.sort_values(objective, ascending=ascending, na_position="last", kind="stable")


def write(frame: pd.DataFrame, path: Path) -> Path:
    """Write every cell to `path`: Parquet for `.parquet`, CSV otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def list_sweeps(conn: Any, limit: int = 50) -> pd.DataFrame:
    """Recent sweeps, newest first: id, strategy, kind, cells, failed, data range, started."""
    rows = conn.execute(
        "SELECT r.run_id, r.strategy, r.params->>'kind', (r.params->>'cells')::int,"
        " coalesce((r.summary->>'failed')::int, 0), r.data_from, r.data_to, r.started_at,"
        " r.finished_at IS NOT NULL, (SELECT count(*) FROM trials t WHERE t.run_id = r.run_id)"
        " FROM backtest_runs r WHERE r.kind = 'sweep' ORDER BY r.started_at DESC LIMIT %s",
        (limit,),
    ).fetchall()
    cols = ["sweep", "strategy", "kind", "cells", "failed", "data_from", "data_to", "started",
            "finished", "logged"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def load(conn: Any, sweep_id: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """(the sweep's backtest_runs row as a dict, its cells as a frame). SweepNotFound if absent."""
    row = conn.execute(
        "SELECT run_id, strategy, params, data_from, data_to, fill_model, summary, started_at,"
        " finished_at FROM backtest_runs WHERE run_id = %s AND kind = 'sweep'",
        (sweep_id,),
    ).fetchone()
    if row is None:
        raise SweepNotFound(f"no sweep {sweep_id!r} (see `updown sweep ls`)")
    keys = ["sweep", "strategy", "params", "data_from", "data_to", "fill_model", "summary",
            "started", "finished"]  # fmt: skip
    from research.trials import trials_of

    cells = [(p, m) for _, p, m in trials_of(conn, sweep_id)]
    return dict(zip(keys, row, strict=True)), frame_of(cells)


def heatmap(frame: pd.DataFrame, x: str, y: str, metric: str, path: Path) -> pd.DataFrame:
    """A heatmap PNG of `metric` over parameters `x` × `y` (mean over the other parameters);
    returns the pivot it drew. ValueError naming a column the sweep lacks."""
    for name, flag in ((x, "--x"), (y, "--y"), (metric, "--metric")):
        if name not in frame.columns:
            raise ValueError(f"{flag} {name!r}: not a column of this sweep ({list(frame.columns)})")
    ok = frame[frame["error"].isna()]
    pivot = ok.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(pivot.columns), 1.2 + 0.6 * len(pivot.index)))
    image = ax.imshow(pivot.to_numpy(dtype=float), cmap="RdYlGn", aspect="auto", origin="lower")
    ax.set_xticks(range(len(pivot.columns)), [str(c) for c in pivot.columns])
    ax.set_yticks(range(len(pivot.index)), [str(i) for i in pivot.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    for (j, i), value in pd.DataFrame(pivot.to_numpy()).stack().items():
        ax.text(i, j, f"{value:.3g}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label=metric)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return pivot
