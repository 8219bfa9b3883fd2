# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
# ruff: noqa: E402, B018 - a notebook: imports after the parameters cell, bare expressions display

# %% [markdown]
# # Backtest report
#
# Written by `updown backtest ... --out DIR` (or run it with papermill and `-p run_dir DIR`) from
# the files in DIR: `summary.json`, `trades.csv`, `equity.csv`, `open_positions.csv`. Every figure
# is the one in `summary.json` (research.report_stats); money is USD, a win is net P&L > 0.

# %% tags=["parameters"]
run_dir = "reports/backtest"  # a directory written by `updown backtest --out`

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

run = Path(run_dir)
summary = json.loads((run / "summary.json").read_text())
trades = pd.read_csv(run / "trades.csv", parse_dates=["opened", "closed"])
equity = pd.read_csv(run / "equity.csv", parse_dates=["time"])
still_open = pd.read_csv(run / "open_positions.csv")
headline = {
    k: summary.get(k)
    for k in ("strategy", "params", "fill_model", "windows_used", "windows_excluded", "trades",
              "wins", "win_rate", "pnl_net", "pnl_gross", "fees", "profit_factor", "expectancy",
              "avg_win", "avg_loss", "max_win_streak", "max_loss_streak", "max_drawdown",
              "max_drawdown_pct", "max_drawdown_duration_s", "max_drawdown_trades", "open_at_end",
              "open_cost")
}  # fmt: skip
pd.Series(headline, name="value").to_frame()

# %% [markdown]
# ## Equity and drawdown (USD, after each settled trade)

# %%
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=[2, 1])
top.step(equity["time"], equity["equity"], where="post")
top.set_ylabel("equity (USD)")
under = equity["equity"].cummax() - equity["equity"]
bottom.fill_between(equity["time"], -under, step="post", color="tab:red", alpha=0.4)
bottom.set_ylabel("drawdown (USD)")
fig.tight_layout()

# %% [markdown]
# ## Calibration: win rate against the price paid, by entry-price bucket
# A binary contract bought at price p wins with probability p if fairly priced: the null is the
# price, not 50 %. Brier score and the exact Poisson-binomial p-value are in the summary.

# %%
by_price = pd.DataFrame(summary["by_entry_price"])
if len(by_price):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, label="fair")
    ax.scatter(by_price["mean_entry"], by_price["win_rate"], s=20 + 5 * by_price["trades"])
    ax.set_xlabel("mean entry price")
    ax.set_ylabel("win rate")
    ax.legend()
cal = summary.get("calibration") or {}
print(f"Brier {cal.get('brier')}; wins vs price p = {summary.get('wins_vs_price_p')}")
by_price

# %% [markdown]
# ## P&L by asset, exit reason and hour of day (UTC, of the entry)

# %%
for key in ("by_asset", "by_exit_reason", "by_hour"):
    display(pd.DataFrame(summary[key]).rename(columns={"key": key[3:]}))

# %% [markdown]
# ## Best and worst trade, positions open at the end

# %%
print("best:", summary.get("best_trade"))
print("worst:", summary.get("worst_trade"))
still_open

# %% [markdown]
# ## Trade list

# %%
trades
