"""What a backtest produced: the engine's records turned into trades, an equity curve, a
per-window table and a summary (with a win-rate confidence interval), plus its files
(`summary.json`, `trades.csv`, `equity.png`) and the printed report."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.stats import binomtest

from live.kernel.domain import Position, PositionState
from live.kernel.records import DecisionRecord, SignalRecord
from live.kernel.strategy import Strategy
from research import fair_price
from research.data import Dataset


@dataclass
class Recorded:
    """The records of one run that results need: signals, decisions, final positions."""

    signals: list[SignalRecord] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    positions: dict[str, Position] = field(default_factory=dict)
    settlements: Counter[str] = field(default_factory=Counter)

    def add(self, batch: list[Any]) -> None:
        for record in batch:
            kind = type(record)
            if kind is DecisionRecord:
                self.decisions.append(record)
            elif kind is SignalRecord:
                self.signals.append(record)
            elif kind is Position:
                self.positions[record.position_id] = record
            elif kind.__name__ == "SettlementRecord":
                self.settlements[record.agreement] += 1


@dataclass
class BacktestResult:
    """A finished backtest. Frames: `trades`, `equity`, `windows`; dict: `summary`."""

    run_id: str
    strategy: str
    params: dict[str, Any]
    summary: dict[str, Any]
    trades: pd.DataFrame
    equity: pd.DataFrame
    windows: pd.DataFrame
    decisions: list[DecisionRecord]
    events: int = 0
    open_positions: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def build(
        cls,
        run_id,
        strategy: Strategy,
        params,
        dataset: Dataset,
        recorded: Recorded,
        fill_model: str,
        latency: dict[str, int],
        balance: Decimal,
    ) -> BacktestResult:
        from research.report_stats import breakdowns, trade_stats

        trades = _trades(recorded.positions.values())
        still_open = _open(recorded.positions.values())
        equity = _equity(trades, float(balance), dataset.start_ms)
        windows = _windows(dataset, recorded, trades)
        summary = _summary(dataset, trades, equity, fill_model, latency, recorded)
        summary.update(trade_stats(trades, equity), **breakdowns(trades))
        summary["open_at_end"] = len(still_open)
        summary["open_cost"] = float(still_open["cost"].sum()) if len(still_open) else 0.0
        summary["open_positions"] = json.loads(still_open.to_json(orient="records"))
        summary.update(run_id=run_id, strategy=strategy.name, params=params)
        return cls(run_id, strategy.name, params, summary, trades, equity, windows,
                   recorded.decisions, open_positions=still_open)  # fmt: skip

    # ---------------------------------------------------------------- output
    def write(self, out: Path) -> list[Path]:
        """summary.json, trades.csv, windows.csv, open_positions.csv, equity.csv and equity.png
        into `out` (the report notebook, notebooks/backtest_report.py, reads these)."""
        out.mkdir(parents=True, exist_ok=True)
        names = ["summary.json", "trades.csv", "windows.csv", "open_positions.csv", "equity.csv"]
        paths = [out / n for n in names]
        paths[0].write_text(json.dumps(self.summary, indent=2, default=str) + "\n")
        self.trades.to_csv(paths[1], index=False)
        self.windows.to_csv(paths[2], index=False)
        self.open_positions.to_csv(paths[3], index=False)
        self.equity.to_csv(paths[4], index=False)
        paths.append(out / "equity.png")
        fig = self.plot_equity()
        fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        return paths

    def plot_equity(self):
        """The equity curve (net P&L after each settled trade) as a matplotlib figure."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 3.5))
        if len(self.equity):
            ax.step(self.equity["time"], self.equity["equity"], where="post")
        ax.set_title(f"{self.strategy} — equity (USD), fill model {self.summary['fill_model']}")
        ax.set_ylabel("USD")
        ax.grid(alpha=0.3)
        return fig

    def report(self) -> str:
        """The printed summary."""
        s = self.summary
        lo, hi = s["win_rate_ci95"]
        reasons = ", ".join(f"{r}: {n}" for r, n in s["excluded_reasons"].items()) or "none"
        latency = ", ".join(f"{k}={v} ms" for k, v in s["latency_ms"].items()) or "none"
        rate = "n/a" if s["win_rate"] is None else f"{s['win_rate']:.1%}"
        return "\n".join(
            [
                f"run {self.run_id}: {self.strategy} {self.params or ''}",
                f"events: {self.events:,}; windows: used {s['windows_used']}, tainted "
                f"{s['windows_tainted']} (kept), excluded {s['windows_excluded']} ({reasons})",
                f"pre-open CLOB rows dropped (FM14): {s['pre_open_rows_dropped']}",
                f"trades: {s['trades']}; wins {s['wins']}; win rate {rate} "
                f"(95 % CI {lo:.1%}–{hi:.1%}, exact binomial)",
                f"P&L gross {s['pnl_gross']:+.4f} USD, net {s['pnl_net']:+.4f} USD (fees "
                f"{s['fees']:.4f}); max drawdown {s['max_drawdown']:.4f} USD",
                f"fill model: {s['fill_model']}; latency offsets: {latency}; "
                f"resolutions: {s['resolutions']}",
                _fair_lines(s),
            ]
        )


def _fair_lines(s: dict[str, Any]) -> str:
    """The summary against fair pricing: a 50 % baseline is not the null for binary contracts."""
    cal = s.get("calibration")
    if not cal:
        return "vs the price paid: no trades"
    buckets = ", ".join(
        f"[{lo:.1f},{hi:.1f}) n={n} won {rate:.0%} paid {price:.3f}"
        for lo, hi, n, rate, price in cal["buckets"]
    )
    return (
        f"vs the price paid (the null for binary contracts, not 50 %): {cal['wins']}/{cal['n']} "
        f"won at mean price + fee {cal['mean_price']:.3f}, edge/trade {cal['edge_per_trade']:+.3f}"
        f", Brier {cal['brier']:.3f}, exact Poisson-binomial p={s['wins_vs_price_p']:.3g}; EV "
        f"{s['ev_per_dollar']:+.4f} USD per USD staked (t-test p={s['ev_per_dollar_p']:.3g}); "
        f"by price: {buckets}"
    )


def _trades(positions) -> pd.DataFrame:
    rows = []
    for p in positions:
        if p.state is not PositionState.CLOSED or not p.shares and not p.cost:
            continue
        rows.append(
            {
                "position_id": p.position_id,
                "window_slug": p.window_slug,
                "asset": str(p.asset),
                "outcome": str(p.outcome),
                "entry_price": float(p.entry_price or 0),
                "shares": float(p.shares),
                "cost": float(p.cost),
                "fees": float(p.fees),
                "exit_reason": p.exit_reason,
                "resolution": None if p.resolution is None else str(p.resolution),
                "pnl_gross": float(p.pnl_gross or 0),
                "pnl_net": float(p.pnl_net or 0),
                "opened": pd.Timestamp(p.opened_ts, unit="ms", tz="UTC"),
                "closed": pd.Timestamp(p.closed_ts or p.updated_ts, unit="ms", tz="UTC"),
            }
        )
    frame = pd.DataFrame(rows, columns=_TRADE_COLUMNS)
    return frame.sort_values("closed", kind="stable").reset_index(drop=True)


def _open(positions) -> pd.DataFrame:
    """Positions the data ended on before they closed (reported, never dropped): cost in USD."""
    rows = [
        {"position_id": p.position_id, "window_slug": p.window_slug, "asset": str(p.asset),
         "outcome": str(p.outcome), "state": str(p.state), "shares": float(p.shares),
         "cost": float(p.cost), "entry_price": float(p.entry_price or 0),
         "opened": pd.Timestamp(p.opened_ts, unit="ms", tz="UTC").isoformat()}
        for p in positions
        if p.state is not PositionState.CLOSED and (p.shares or p.cost)
    ]  # fmt: skip
    cols = ["position_id", "window_slug", "asset", "outcome", "state", "shares", "cost",
            "entry_price", "opened"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


_TRADE_COLUMNS = [
    "position_id",
    "window_slug",
    "asset",
    "outcome",
    "entry_price",
    "shares",
    "cost",
    "fees",
    "exit_reason",
    "resolution",
    "pnl_gross",
    "pnl_net",
    "opened",
    "closed",
]


def _equity(trades: pd.DataFrame, balance: float, start_ms: int) -> pd.DataFrame:
    start = pd.Timestamp(start_ms, unit="ms", tz="UTC")
    times = [start, *trades["closed"]]
    values = [balance, *(balance + trades["pnl_net"].cumsum())]
    return pd.DataFrame({"time": times, "equity": values})


def _max_drawdown(equity: pd.DataFrame) -> float:
    values = equity["equity"]
    return float((values.cummax() - values).max()) if len(values) else 0.0


def _windows(dataset: Dataset, recorded: Recorded, trades: pd.DataFrame) -> pd.DataFrame:
    frame = dataset.windows_frame()
    decided = {d.window_slug: d for d in recorded.decisions}
    frame["signal_side"] = [_side(decided.get(s)) for s in frame["slug"]]
    frame["verdict"] = [None if s not in decided else decided[s].verdict for s in frame["slug"]]
    frame["deny_code"] = [None if s not in decided else decided[s].code for s in frame["slug"]]
    pnl = trades.groupby("window_slug")["pnl_net"].sum() if len(trades) else pd.Series()
    frame["pnl_net"] = [float(pnl.get(s, 0.0)) for s in frame["slug"]]
    return frame


def _side(decision: DecisionRecord | None) -> str | None:
    return None if decision is None else decision.inputs.get("side")


def _summary(dataset, trades, equity, fill_model, latency, recorded) -> dict[str, Any]:
    n = len(trades)
    wins = int((trades["pnl_gross"] > 0).sum()) if n else 0
    ci = binomtest(wins, n).proportion_ci(0.95, method="exact") if n else None
    resolutions = Counter(w.resolution for w in dataset.windows.values() if w.status != "excluded")
    return {
        "windows_used": dataset.count("used") + dataset.count("tainted"),
        "windows_clean": dataset.count("used"),
        "windows_tainted": dataset.count("tainted"),
        "windows_excluded": dataset.count("excluded"),
        "excluded_reasons": dict(dataset.exclusion_reasons()),
        "excluded_windows": {
            w.slug: "; ".join(w.reasons) for w in dataset.windows.values() if w.status == "excluded"
        },  # fmt: skip
        "pre_open_rows_dropped": dataset.dropped_pre_open,
        "signals": len(recorded.signals),
        "denied": sum(1 for d in recorded.decisions if d.verdict == "DENIED"),
        "trades": n,
        "wins": wins,
        "win_rate": None if not n else wins / n,
        "win_rate_ci95": [0.0, 1.0] if ci is None else [float(ci.low), float(ci.high)],
        "pnl_gross": float(trades["pnl_gross"].sum()) if n else 0.0,
        "pnl_net": float(trades["pnl_net"].sum()) if n else 0.0,
        "fees": float(trades["fees"].sum()) if n else 0.0,
        "max_drawdown": _max_drawdown(equity),
        "fill_model": fill_model,
        "latency_ms": dict(latency),
        "resolutions": {str(k): v for k, v in resolutions.items()},
        "settlements": dict(recorded.settlements),
        "data_from_ms": dataset.start_ms,
        "data_to_ms": dataset.end_ms,
    } | _fair_summary(trades)


def _fair_summary(trades: pd.DataFrame) -> dict[str, Any]:
    """What the fair-pricing null reads (research.fair_price): calibration of the prices paid,
    the exact Poisson-binomial p-value of the wins, EV per USD staked and the per-trade Sharpe;
    None when there are no trades (jsonb has no NaN)."""
    held = trades[(trades["shares"] > 0) & (trades["cost"] > 0)] if len(trades) else trades
    if not len(held):
        return {"calibration": None, "wins_vs_price_p": None, "ev_per_dollar": None,
                "ev_per_dollar_p": None, "sharpe_per_trade": None}  # fmt: skip
    q = ((held["cost"] + held["fees"]) / held["shares"]).clip(upper=1.0).tolist()
    won = [
        (r == o) if r is not None else p > 0
        for r, o, p in zip(held["resolution"], held["outcome"], held["pnl_net"], strict=True)
    ]
    r = (held["pnl_net"] / held["cost"]).to_numpy(dtype=float)
    sd = float(r.std(ddof=1)) if len(r) > 1 else 0.0
    return {
        "calibration": fair_price.calibration(q, won).as_dict(),
        "wins_vs_price_p": fair_price.wins_vs_price_pvalue(won, q),
        "ev_per_dollar": float(r.mean()),
        "ev_per_dollar_p": fair_price.ev_per_dollar_pvalue(r),
        "sharpe_per_trade": float(r.mean() / sd) if sd > 0 else None,
    }
