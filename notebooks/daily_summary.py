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
# # Daily summary
#
# One UTC day of the live runner: trades, gross and net P&L per strategy, assertion pass rate,
# circuit-breaker events, uptime, feed gaps and settlement agreement. Every figure comes from
# `live.reports.daily`, the same module that writes the `daily_summary` alert, so the two agree.
# Run with `updown report daily [--date D]`; definitions are in `docs/reports.md`.

# %% tags=["parameters"]
day = None  # ISO date (UTC); default: yesterday
now = None  # ISO timestamp the report is as of; default: the wall clock

# %%
from datetime import UTC, date, datetime, timedelta

import matplotlib.pyplot as plt
import pandas as pd

from live.reports import daily as reports
from live.store import db

as_of = datetime.fromisoformat(now) if now else datetime.now(UTC)
the_day = date.fromisoformat(day) if day else (as_of - timedelta(days=1)).date()
with db.connect() as conn:
    summary = reports.daily_summary(conn, the_day, now=as_of)
print(f"Daily summary for {the_day} (UTC), {summary.start:%H:%M} to {summary.end:%Y-%m-%d %H:%M}")
print("\n".join(reports.summary_lines(summary)))

# %% [markdown]
# ## Trades and P&L per strategy
# Trades are positions opened in the day; P&L is over positions closed in the day. Money is in
# dollars to the cent by the one rule of `live.reports.money` (fees and net rounded, gross =
# net + fees), so gross − fees = net in every row.

# %%
strategies = pd.DataFrame(reports.shown_strategies(summary))
strategies

# %%
if not strategies.empty:
    pnl = strategies.assign(
        label=strategies["mode"] + " " + strategies["strategy"],
        gross=strategies["pnl_gross"].astype(float),
        net=strategies["pnl_net"].astype(float),
    )
    ax = pnl.plot.bar(
        x="label", y=["gross", "net"], figsize=(8, 3), title="P&L per strategy (USDC)"
    )
    ax.axhline(0, color="black", linewidth=0.8)
    plt.show()

# %% [markdown]
# ## Runtime assertions

# %%
pd.DataFrame(
    [
        {"assertion": n, "checked": c, "passed": p, "failed": c - p}
        for n, (c, p) in summary.assertions.items()
    ],
    columns=["assertion", "checked", "passed", "failed"],
)

# %% [markdown]
# ## Circuit breaker, uptime and feed gaps

# %%
pd.DataFrame(summary.breaker_events, columns=["id", "ts", "tripped", "reason", "instance_id"])

# %%
print(f"uptime {summary.uptime_s / 3600:.2f} h of {summary.span_s / 3600:.2f} h")
pd.DataFrame(summary.feed_gaps, columns=["feed", "asset", "gaps", "seconds"])

# %% [markdown]
# ## Settlements and alerts

# %%
pd.DataFrame(
    [{"agreement": k, "windows": v} for k, v in sorted(summary.settlements.items())],
    columns=["agreement", "windows"],
)

# %%
pd.DataFrame(summary.disagreements, columns=["window_slug", "mode", "ours", "venue", "ts"])

# %%
pd.DataFrame(
    [{"kind": k, "alerts": v} for k, v in summary.alerts.items()], columns=["kind", "alerts"]
)
