"""The `trials` log: every backtest configuration tried, screen or event-driven, so deflated
Sharpe and PBO (research.stats) can count how many things were tried."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def plain(value: Mapping[str, Any]) -> Jsonb:
    """A JSONB of `value` with non-JSON leaves (Decimal, datetime) as strings."""
    return Jsonb(json.loads(json.dumps(dict(value), default=str)))


TRIAL_METRICS = ("windows_used", "windows_tainted", "windows_excluded", "signals", "trades",
                 "wins", "win_rate", "pnl_gross", "pnl_net", "fees", "max_drawdown")  # fmt: skip


METRIC_UNITS = {"pnl_gross": "USD", "pnl_net": "USD", "pnl": "USD per $1 staked per trade, summed",
                "fees": "USD", "max_drawdown": "USD (peak minus trough, positive)",
                "sharpe": "per trade, not annualised (net P&L per USD staked)"}  # fmt: skip


def trial_metrics(result) -> dict[str, Any]:
    """A backtest's metrics as logged in `trials`: the summary's counts and P&L, the per-trade
    Sharpe of net P&L per USD staked (for the deflated Sharpe's trial variance) and the per-window
    net P&L series (for PBO across a sweep's cells)."""
    metrics = {k: result.summary[k] for k in TRIAL_METRICS}
    metrics["sharpe"] = result.summary.get("sharpe_per_trade")
    metrics["window_pnl"] = [round(float(x), 6) for x in result.windows["pnl_net"]]
    metrics["units"] = {k: METRIC_UNITS[k] for k in ("pnl_gross", "pnl_net", "fees",
                                                      "max_drawdown", "sharpe")}  # fmt: skip
    return metrics


def log_trial(
    conn: Any,
    *,
    kind: str,
    strategy: str,
    params: Mapping[str, Any],
    data_from_ms: int | None,
    data_to_ms: int | None,
    metrics: Mapping[str, Any],
    run_id: str | None = None,
) -> int:
    """Insert one trial (kind 'screen' or 'event'); returns its id."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO trials (kind, strategy, params, data_from, data_to, metrics, run_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (kind, strategy, plain(params), _dt(data_from_ms), _dt(data_to_ms), plain(metrics),
             run_id),
        ).fetchone()  # fmt: skip
    return int(row[0])


def trials_of(conn: Any, run_id: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(kind, params, metrics) of a sweep's trials, in insertion order."""
    rows = conn.execute(
        "SELECT kind, params, metrics FROM trials WHERE run_id = %s ORDER BY id", (run_id,)
    ).fetchall()
    return [(k, p, m) for k, p, m in rows]
