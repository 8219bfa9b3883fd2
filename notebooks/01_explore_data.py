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
# # 01 — explore recorded data
# Loads a day through the research loader (window filter FM14, tainted windows kept FM13) and
# plots the Up token's top of book for a few windows.

# %% [markdown]
# **Getting data.** This notebook reads the database by default: `make demo` records a session
# into it, and `updown data import FILE...` imports recordings in the public formats (journal
# `.jsonl[.gz]`, `chainlink` CSV, `gamma-markets` JSONL, `top-of-book` CSV, `polymarket-ws`
# JSONL; see `docs/research.md`), e.g. the real day in `../shared/data/real/`. Or give files
# directly: `papermill NB.ipynb out.ipynb -p files '["btc_15m_top_of_book_1s_2025-12-26.csv.gz"]'`.

# %% tags=["parameters"]
files = []  # data files to read instead of the database (papermill: -p files '["a.csv.gz"]')
day = None  # UTC day YYYY-MM-DD; default: the last day with a window (the files' span if files)
max_windows = 4

# %%
import matplotlib.pyplot as plt

from research.data import load

dataset = load(files, day)
windows = dataset.windows_frame()
print(
    windows["status"].value_counts().to_dict(), "pre-open rows dropped:", dataset.dropped_pre_open
)
windows.head(10)

# %%
events = dataset.events_frame()
books = events[events["kind"] == "book"]
up_token = {e.window.slug: e.window.token_up for _, _, e in dataset.items if hasattr(e, "window")}
fig, ax = plt.subplots(figsize=(9, 3.5))
for slug in windows["slug"].head(max_windows):
    up = books[books["token_id"] == up_token[slug]]
    ax.plot((up["ts"] - dataset.windows[slug].open_ts) / 1000, up["best_ask"], label=slug)
ax.set_xlabel("seconds since open")
ax.set_ylabel("Up best ask")
ax.legend(fontsize=7)
