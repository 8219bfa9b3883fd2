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
# # 03 — parameter sweep
# First the SCREEN (vectorised, window-level: an approximation, not the event-driven truth),
# then the survivors as event-driven backtests through the live engine.

# %% tags=["parameters"]
files = ["../../shared/data/real/btc_15m_top_of_book_1s_2025-12-26.csv.gz"]
day = "2025-12-26"
offsets_s = [30, 60, 120]
min_prices = [0.5, 0.7]

# %%
import matplotlib.pyplot as plt

from research.backtest import run_backtest
from research.data import load_files
from research.screen import screen

dataset = load_files(files, day)
frame = screen(dataset, offsets_s, min_prices)
frame

# %%
fig, ax = plt.subplots(figsize=(6, 3))
for m, part in frame.groupby("min_price"):
    ax.plot(part["before_close_s"], part["pnl"], marker="o", label=f"min price {m}")
ax.set_xlabel("entry, seconds before close")
ax.set_ylabel("screen P&L per $1 trades")
ax.legend()

# %%
truth = {
    s: run_backtest("canary", dataset, params={"before_close_s": s}).summary["pnl_net"]
    for s in offsets_s
}
truth
