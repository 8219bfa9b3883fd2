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

# %% tags=["parameters"]
files = ["../../shared/data/real/btc_15m_top_of_book_1s_2025-12-26.csv.gz"]
day = "2025-12-26"
strategy = "canary"
fill_model = "book"
latency_ms = {"clob": 0}
check = True

# %%
from research.backtest import run_backtest
from research.data import load_files
from research.lookahead import check_lookahead

dataset = load_files(files, day)
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
