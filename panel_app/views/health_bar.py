"""System Health Bar (on every view): feeds, DB pool, completeness, clock, lock, runner."""

from __future__ import annotations

import pandas as pd
import panel as pn
from panel.viewable import Viewer

from panel_app.models.health import (
    CLOCK_THRESHOLD_MS,
    POOL_ALERT,
    HealthBarModel,
    clock_status,
)
from panel_app.views.common import chip, set_html
from panel_app.views.html import Html, fmt, join


def _feeds(model: HealthBarModel) -> Html:
    if model.feeds.empty:
        return chip("no feeds reported", "red")
    parts = []
    for _, f in model.feeds.iterrows():
        if f["age_s"] is None or pd.isna(f["age_s"]):
            text = f"{f['feed']} no message yet"
        elif f["status"] == "green" and f["expected"].startswith("event-driven: quiet"):
            text = f"{f['feed']} idle (no working order)"
        else:
            text = f"{f['feed']} {f['age_s']:.1f}s · {f['ticks_per_s']:.1f}/s"
        parts.append(chip(text, f["status"], f["expected"], f"ud-feed ud-feed-{f['feed']}"))
    return join(parts)


def _clock(model: HealthBarModel) -> Html:
    offset, uncertainty = model.clock_offset_ms, model.clock_uncertainty_ms
    if offset is None:
        return chip("clock not measured yet", "grey", "offset vs venue server time", "ud-clock")
    return chip(
        f"clock {offset:+.0f} ± {uncertainty:.0f} ms",
        clock_status(offset, uncertainty),
        f"venue time − ours; red beyond {CLOCK_THRESHOLD_MS} ms + the uncertainty",
        "ud-clock",
    )


def _assertions(model: HealthBarModel) -> Html:
    passing, total, failing = model.assertions
    if total == 0:
        return chip("assertions: none run yet", "grey", "", "ud-assertion-status")
    if failing:
        text = f"ASSERTION FAILED: {', '.join(failing)} ({passing}/{total} passed)"
        return chip(text, "red", "latest result of each check", "ud-assertion-status")
    return chip(f"assertions {passing}/{total} OK", "green", "", "ud-assertion-status")


def render(model: HealthBarModel) -> Html:
    pool = model.pool_utilization
    pool_text = "pool not reported" if pool is None else f"pool {pool:.0%}"
    pool_status = "grey" if pool is None else ("red" if pool > POOL_ALERT else "green")
    write = model.last_write_age_s
    write_text = "no write yet" if write is None else f"last write {write:.1f}s ago"
    worst = model.worst_completeness()
    comp = "completeness: no window yet" if worst is None else f"completeness min {worst:.1f}%"
    comp_status = (
        "grey"
        if worst is None
        else ("green" if worst >= 99 else "yellow" if worst >= 95 else "red")
    )
    parts = [
        Html("<b>HEALTH</b> "),
        _feeds(model),
        chip(pool_text, pool_status, "runner DB pool utilisation (alert > 80 %)", "ud-pool"),
        chip(write_text, "green" if write is not None and write < 5 else "grey", "", "ud-write"),
        chip(
            comp,
            comp_status,
            "seconds with ≥1 message / seconds the feed was supposed to cover, per window",
            "ud-completeness",
        ),
        _clock(model),
        _assertions(model),
        chip(
            f"lock: {model.lock_holder}",
            "green" if model.lock_held else "red",
            "sole-trader advisory lock",
            "ud-lock",
        ),
        chip(
            f"runner health: {model.runner}", "green" if model.runner_ok else "red", "", "ud-runner"
        ),
        chip(
            f"reconciliation: {model.reconciliation}",
            "green" if model.reconciliation_ok else "red",
            "",
            "ud-reconciliation",
        ),
    ]
    if model.poller_error:
        parts.append(chip(f"dashboard poller: {model.poller_error}", "red"))
    return fmt('<div class="ud-health">{}</div>', join(parts))


class HealthBar(Viewer):
    """Thin view over the shared HealthBarModel."""

    def __init__(self, model: HealthBarModel, **params) -> None:
        super().__init__(**params)
        self.model = model
        self._pane = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 5))

    def update(self) -> None:
        set_html(self._pane, render(self.model))

    def __panel__(self):
        return self._pane
