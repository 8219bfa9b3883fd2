"""The backtest report's figures, from the trades frame alone (research.results): profit factor,
expectancy, best/worst trade, win/loss streaks, drawdown depth and duration, and P&L tables by
asset, exit reason, hour of day (UTC, of the entry) and entry-price bucket (calibration: win rate
vs the price paid). A win is a trade with net P&L > 0. Money is USD; durations are seconds.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

PRICE_BUCKETS = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # entry price, USD per share


def _f(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def streaks(wins: list[bool]) -> tuple[int, int]:
    """(longest run of wins, longest run of losses) in trade order."""
    best = {True: 0, False: 0}
    run, last = 0, None
    for won in wins:
        run = run + 1 if won == last else 1
        last = won
        best[won] = max(best[won], run)
    return best[True], best[False]


def drawdown(equity: pd.DataFrame) -> dict[str, Any]:
    """Depth (USD and fraction of the peak) and duration of the worst and longest drawdowns of
    an equity curve (`time`, `equity`); an open drawdown lasts until the curve's last point."""
    values, times = equity["equity"].to_numpy(dtype=float), list(equity["time"])
    peak, peak_i, longest, longest_trades, depth, depth_pct = None, 0, 0.0, 0, 0.0, 0.0
    for i, v in enumerate(values):
        if peak is None or v >= peak:
            peak, peak_i = v, i
            continue
        depth = max(depth, peak - v)
        depth_pct = max(depth_pct, (peak - v) / peak if peak > 0 else 0.0)
        span = (times[i] - times[peak_i]).total_seconds()
        if span > longest or (span == longest and i - peak_i > longest_trades):
            longest, longest_trades = span, i - peak_i
    return {"max_drawdown": depth, "max_drawdown_pct": depth_pct,
            "max_drawdown_duration_s": longest, "max_drawdown_trades": longest_trades}  # fmt: skip


def trade_stats(trades: pd.DataFrame, equity: pd.DataFrame) -> dict[str, Any]:
    """The scalar figures of the report (None where undefined, e.g. no losing trade)."""
    pnl = trades["pnl_net"].astype(float)
    won = pnl > 0
    gains, losses = float(pnl[won].sum()), float(-pnl[~won].sum())
    win_streak, loss_streak = streaks(list(won))
    best = trades.loc[pnl.idxmax()] if len(pnl) else None
    worst = trades.loc[pnl.idxmin()] if len(pnl) else None
    return {
        "profit_factor": gains / losses if losses > 0 else None,
        "expectancy": _f(pnl.mean()) if len(pnl) else None,
        "avg_win": _f(pnl[won].mean()) if won.any() else None,
        "avg_loss": _f(pnl[~won].mean()) if (~won).any() else None,
        "best_trade": None if best is None else {"position_id": best["position_id"],
                                                 "window_slug": best["window_slug"],
                                                 "pnl_net": float(best["pnl_net"])},
        "worst_trade": None if worst is None else {"position_id": worst["position_id"],
                                                   "window_slug": worst["window_slug"],
                                                   "pnl_net": float(worst["pnl_net"])},
        "max_win_streak": win_streak,
        "max_loss_streak": loss_streak,
    } | drawdown(equity)  # fmt: skip


def _table(trades: pd.DataFrame, by) -> list[dict[str, Any]]:
    if not len(trades):
        return []
    pnl = trades["pnl_net"].astype(float)
    grouped = trades.assign(_won=pnl > 0, _pnl=pnl).groupby(by, observed=True, sort=True)
    out = grouped.agg(trades=("_pnl", "size"), wins=("_won", "sum"), pnl_net=("_pnl", "sum"),
                      fees=("fees", "sum"), mean_entry=("entry_price", "mean"))  # fmt: skip
    out["win_rate"] = out["wins"] / out["trades"]
    out = out.reset_index().rename(columns={out.index.name or "index": "key"})
    out["key"] = out["key"].astype(str)
    return [{k: (int(v) if k in ("trades", "wins") else v if k == "key" else float(v))
             for k, v in row.items()} for row in out.to_dict("records")]  # fmt: skip


def breakdowns(trades: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """P&L tables: by asset, exit reason, UTC hour of entry and entry-price bucket; each row
    `{key, trades, wins, win_rate, pnl_net, fees, mean_entry}`."""
    if not len(trades):
        return {"by_asset": [], "by_exit_reason": [], "by_hour": [], "by_entry_price": []}
    price = pd.cut(trades["entry_price"], PRICE_BUCKETS, right=False)
    return {
        "by_asset": _table(trades, trades["asset"].rename("key")),
        "by_exit_reason": _table(trades, trades["exit_reason"].fillna("none").rename("key")),
        "by_hour": _table(trades, trades["opened"].dt.hour.rename("key")),
        "by_entry_price": _table(trades, price.astype(str).rename("key")),
    }
