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

# %% [markdown]
# **Getting data.** This notebook reads the database by default: `make demo` records a session
# into it, and `updown data import FILE...` imports recordings in the public formats (journal
# `.jsonl[.gz]`, `chainlink` CSV, `gamma-markets` JSONL, `top-of-book` CSV, `polymarket-ws`
# JSONL; see `docs/research.md`), e.g. the real day in `../shared/data/real/`. Or give files
# directly: `papermill NB.ipynb out.ipynb -p files '["btc_15m_top_of_book_1s_2025-12-26.csv.gz"]'`.

# %% tags=["parameters"]
files = []  # data files to read instead of the database (papermill: -p files '["a.csv.gz"]')
day = None  # UTC day YYYY-MM-DD; default: the last day with a window (the files' span if files)
offsets_s = [30, 60, 120]
min_prices = [0.5, 0.7]

# %%
import matplotlib.pyplot as plt

from research.backtest import run_backtest
from research.data import load
from research.screen import screen

dataset = load(files, day)
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
