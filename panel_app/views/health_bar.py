"""System Health Bar (on every view): feeds, DB pool, completeness, clock, lock, runner."""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from panel_app.models.health import POOL_ALERT, HealthBarModel
from panel_app.views.common import chip, set_html
from panel_app.views.html import Html, fmt, join


def _feeds(model: HealthBarModel) -> Html:
    if model.feeds.empty:
        return chip("no feeds reported", "red")
    parts = []
    for _, f in model.feeds.iterrows():
        age = "—" if f["age_s"] is None else f"{f['age_s']:.1f}s"
        extra = f" · {f['ticks_per_s']:.1f}/s"
        if f["out_of_order"] is not None:
            extra += f" · ooo {f['out_of_order']}"
        if f["lost_ticks"] is not None:
            extra += f" · lost {f['lost_ticks']}"
        parts.append(
            chip(
                f"{f['feed']} {age}{extra}",
                f["status"],
                f"runner status: {f['runner_status']}",
                f"ud-feed ud-feed-{f['feed']}",
            )
        )
    return join(parts)


def render(model: HealthBarModel) -> Html:
    pool = model.pool_utilization
    pool_text = "pool —" if pool is None else f"pool {pool:.0%}"
    pool_status = "grey" if pool is None else ("red" if pool > POOL_ALERT else "green")
    write = model.last_write_age_s
    write_text = "last write —" if write is None else f"last write {write:.1f}s ago"
    worst = model.worst_completeness()
    comp = "completeness —" if worst is None else f"completeness min {worst:.1f}%"
    comp_status = (
        "grey"
        if worst is None
        else ("green" if worst >= 99 else "yellow" if worst >= 95 else "red")
    )
    clock = model.clock_offset_ms
    clock_status = "grey" if clock is None else ("green" if abs(clock) < 250 else "red")
    clock_text = "clock —" if clock is None else f"clock offset {clock:+.0f} ms"
    parts = [
        Html("<b>HEALTH</b> "),
        _feeds(model),
        chip(pool_text, pool_status, "runner DB pool utilisation (alert > 80 %)", "ud-pool"),
        chip(write_text, "green" if write is not None and write < 5 else "grey", "", "ud-write"),
        chip(
            comp,
            comp_status,
            "seconds with ≥1 message / elapsed seconds, per feed per window",
            "ud-completeness",
        ),
        chip(clock_text, clock_status, "offset vs venue server time", "ud-clock"),
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
