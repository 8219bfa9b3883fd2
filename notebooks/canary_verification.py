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
# # Canary verification report
#
# The spec's Phase 1 verification checklist (items 1-10), plus item 11 "every runtime assertion
# held" (Phase 1b), for each window the canary traded in the last N window periods. Each cell of
# the matrix is PASS or FAIL; below it, every item's reason and the evidence rows (ids,
# timestamps, prices, balances) that decided it. Checks live in `live.reports.canary_checks`.
# Run with `updown report canary [--windows N] [--mode M] [--run-id R]`.

# %% tags=["parameters"]
windows = 2  # window periods (close times) to verify: 2 for Phase 1a, 20 for Phase 1b
mode = None  # LIVE, PAPER or DRY_RUN; default: the mode of the latest canary signal
run_id = None  # one runner session; default: every run in that mode
now = None  # ISO timestamp the report is as of; default: the wall clock
settle_grace_s = 0  # only windows closed at least this long ago
result_path = None  # where to write the verdict as JSON (the CLI reads it for its exit code)

# %%
import json
from datetime import UTC, datetime

import pandas as pd
from IPython.display import Markdown, display

from live.reports import canary_checks
from live.store import db

as_of = datetime.fromisoformat(now) if now else datetime.now(UTC)
with db.connect() as conn:
    report = canary_checks.verify(
        conn, windows=windows, mode=mode, run_id=run_id, now=as_of, settle_grace_s=settle_grace_s
    )
verdict = "PASS" if report.passed else "FAIL"
display(Markdown(f"**Verdict: {verdict}** over {len(report.windows)} window(s), as of {as_of}"))
if not report.windows:
    display(Markdown("No canary window found: nothing was verified, which counts as FAIL."))
for slug, why in report.skipped:
    display(Markdown(f"Skipped {slug} (not traded, not checked): {why}"))

# %% [markdown]
# ## Checklist matrix (window × item)

# %%
items = pd.Series(canary_checks.ITEMS, name="item")
matrix = pd.DataFrame(report.matrix()).T.reindex(columns=sorted(canary_checks.ITEMS))
display(items.to_frame())
matrix

# %% [markdown]
# ## Failures

# %%
failures = pd.DataFrame(
    [{"window": r.window_slug, "item": r.item, "reason": r.reason} for r in report.failures()],
    columns=["window", "item", "reason"],
)
failures

# %% [markdown]
# ## Evidence, window by window

# %%
for slug in report.windows:
    display(Markdown(f"### {slug}"))
    for r in (r for r in report.results if r.window_slug == slug):
        display(Markdown(f"**{r.item}. {canary_checks.ITEMS[r.item]}: {r.verdict}** ({r.reason})"))
        if r.evidence:
            display(pd.DataFrame(list(r.evidence)))

# %%
if result_path:
    with open(result_path, "w") as out:
        json.dump(
            {
                "passed": report.passed,
                "windows": list(report.windows),
                "matrix": report.matrix(),
                "failures": [[r.window_slug, r.item, r.reason] for r in report.failures()],
                "skipped": [list(pair) for pair in report.skipped],
            },
            out,
            indent=1,
        )
