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
# # 02 — replay backtest through the live engine
# The same engine that trades live, in BACKTEST mode, over recorded data; then the look-ahead
# proof.

# %% [markdown]
# **Getting data.** This notebook reads the database by default: `make demo` records a session
# into it, and `updown data import FILE...` imports recordings in the public formats (journal
# `.jsonl[.gz]`, `chainlink` CSV, `gamma-markets` JSONL, `top-of-book` CSV, `polymarket-ws`
# JSONL; see `docs/research.md`), e.g. the real day in `../shared/data/real/`. Or give files
# directly: `papermill NB.ipynb out.ipynb -p files '["btc_15m_top_of_book_1s_2025-12-26.csv.gz"]'`.

# %% tags=["parameters"]
files = []  # data files to read instead of the database (papermill: -p files '["a.csv.gz"]')
day = None  # UTC day YYYY-MM-DD; default: the last day with a window (the files' span if files)
strategy = "canary"
fill_model = "book"
latency_ms = {"clob": 0}
check = True

# %%
from research.backtest import run_backtest
from research.data import load
from research.lookahead import check_lookahead

dataset = load(files, day)
result = run_backtest(strategy, dataset, fill_model=fill_model, latency_ms=latency_ms)
print(result.report())

# %%
result.trades

# %%
result.plot_equity()

# %%
result.windows[["slug", "status", "signal_side", "verdict", "deny_code", "winner", "pnl_net"]]

# %%
if check:
    print(check_lookahead(strategy, dataset, fill_model=fill_model, latency_ms=latency_ms))
