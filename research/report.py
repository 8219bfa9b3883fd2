"""The backtest report: a rich summary table for the terminal and an HTML report (papermill over
notebooks/backtest_report.py, which reads the files `BacktestResult.write` puts in a directory).
Every figure shown comes from `summary` (research.results, research.report_stats)."""

from __future__ import annotations

from typing import Any


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


def summary_table(summary: dict[str, Any]):
    """A rich Table of the headline figures (USD unless stated)."""
    from rich.table import Table

    s = summary
    table = Table(title=f"backtest {s['run_id']}: {s['strategy']}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    pf = s.get("profit_factor")
    rate = "n/a" if s["win_rate"] is None else f"{s['win_rate']:.1%}"
    best, worst = s.get("best_trade"), s.get("worst_trade")
    rows = [
        ("windows used / excluded", f"{s['windows_used']} / {s['windows_excluded']}"),
        ("trades (wins)", f"{s['trades']} ({s['wins']})"),
        ("win rate", rate),
        ("P&L net / gross (USD)", f"{_usd(s['pnl_net'])} / {_usd(s['pnl_gross'])}"),
        ("fees (USD)", f"{s['fees']:.4f}"),
        ("profit factor", "n/a" if pf is None else f"{pf:.3f}"),
        ("expectancy (USD/trade)", _usd(s.get("expectancy"))),
        ("best / worst trade (USD)",
         f"{_usd(best and best['pnl_net'])} / {_usd(worst and worst['pnl_net'])}"),
        ("longest win / loss streak", f"{s['max_win_streak']} / {s['max_loss_streak']}"),
        ("max drawdown (USD, % of peak)",
         f"{s['max_drawdown']:.4f} ({s['max_drawdown_pct']:.2%})"),
        ("longest drawdown", f"{s['max_drawdown_duration_s'] / 3600:.2f} h, "
                             f"{s['max_drawdown_trades']} trades"),
        ("open at end (cost USD)", f"{s['open_at_end']} ({s['open_cost']:.4f})"),
    ]  # fmt: skip
    cal = s.get("calibration")
    if cal:
        rows.append(("Brier score", f"{cal['brier']:.4f}"))
    for name, value in rows:
        table.add_row(name, value)
    return table


def breakdown_tables(summary: dict[str, Any]) -> list:
    """Rich tables of P&L by asset, exit reason, hour (UTC) and entry-price bucket."""
    from rich.table import Table

    out = []
    titles = {"by_asset": "asset", "by_exit_reason": "exit reason", "by_hour": "hour (UTC)",
              "by_entry_price": "entry price"}  # fmt: skip
    for key, title in titles.items():
        rows = summary.get(key) or []
        if not rows:
            continue
        table = Table(title=f"P&L by {title}")
        for col in (title, "trades", "win rate", "P&L net", "fees", "mean entry"):
            table.add_column(col, justify="right")
        for r in rows:
            money = (f"{r['pnl_net']:+.4f}", f"{r['fees']:.4f}", f"{r['mean_entry']:.3f}")
            table.add_row(r["key"], str(r["trades"]), f"{r['win_rate']:.1%}", *money)
        out.append(table)
    return out
