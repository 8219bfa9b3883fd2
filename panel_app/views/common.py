"""Small view helpers shared by every view: colours, chips, and Tabulator sync."""

from __future__ import annotations

import pandas as pd
import panel as pn

from live.reports.money import usd
from panel_app.views.html import Html, esc, fmt, token

__all__ = ["CSS", "Html", "chip", "esc", "fmt", "keyed", "money", "set_html", "sync_table", "table"]

CSS = """
.ud-chip {display:inline-block; padding:2px 8px; margin:2px 4px 2px 0; border-radius:10px;
          font: 12px/1.6 monospace; color:#fff;}
.ud-green {background:#1b873f;} .ud-yellow {background:#b58105;} .ud-red {background:#c62828;}
.ud-grey {background:#666;}
.ud-badge {display:inline-block; padding:6px 16px; margin-right:10px; border-radius:6px;
           font: bold 22px/1.3 sans-serif; color:#fff; letter-spacing:1px;}
.ud-venue-SANDBOX {background:#1565c0;} .ud-venue-POLYMARKET {background:#c62828;}
.ud-venue-NO\\ RUNNER {background:#666;}
.ud-mode-LIVE {background:#c62828;} .ud-mode-PAPER {background:#2e7d32;}
.ud-mode-DRY_RUN {background:#6a1b9a;} .ud-mode-BACKTEST {background:#555;}
.ud-figure {font: 18px/1.4 monospace; margin-right:18px;}
.ud-state-box {display:inline-block; padding:4px 8px; margin:2px; border:1px solid #999;
               border-radius:4px; font: 12px monospace;}
.ud-state-box.ud-on {background:#fff3c4; border-color:#b58105; font-weight:bold;}
.ud-alert {padding:8px 12px; margin:5px; border-radius:4px; font: 13px/1.4 sans-serif;}
.ud-alert-info {background:#e3f2fd;} .ud-alert-success {background:#e8f5e9;}
.ud-activity, .ud-position, .ud-money {font: 13px/1.5 monospace; white-space: normal;
    overflow-wrap: anywhere; padding: 1px 4px;}
.ud-activity .ud-time {color:#555; margin-right:6px;}
.ud-activity-ASSERTION, .ud-activity-BREAKER, .ud-activity-KILL {font-weight:bold;}
.ud-position b {font-size:15px;} .ud-position-detail {color:#555;}
.ud-alert-danger {background:#ffebee;} .ud-alert-warning {background:#fff8e1;}
"""

STATUS_CLASS = {
    "green": "ud-green",
    "yellow": "ud-yellow",
    "red": "ud-red",
    "ok": "ud-green",
    "FAILED": "ud-red",
    "no result": "ud-grey",
    "active": "ud-green",
    "paused": "ud-yellow",
    "disabled_kill_criterion": "ud-red",
    "not_promoted": "ud-grey",
}


def chip(text, status, title="", cls: str = "") -> Html:
    """A coloured pill; `status` picks the colour (green/yellow/red/grey or a known state).
    Everything is escaped; `cls` is space-separated class names, each reduced by `token`."""
    colour = STATUS_CLASS.get(status) if isinstance(status, str) else None
    classes = " ".join(token(c) for c in ["ud-chip", colour or f"ud-{status}", *cls.split()])
    return fmt('<span class="{}" title="{}">{}</span>', classes, title, text)


def money(value, signed: bool = False) -> str:
    """A money figure as text, by the one rule (live.reports.money.usd): `+$1.23`, `—`."""
    return usd(value, signed=signed)


def set_html(pane: pn.pane.HTML, text: Html) -> None:
    """Assign only when it changed (avoids a websocket message per tick). Only `Html` (built by
    panel_app.views.html, values escaped) may reach a pane."""
    if not isinstance(text, Html):
        raise TypeError("set_html takes Html built with panel_app.views.html.fmt, not a str")
    if pane.object != text:
        pane.object = text


def table(value: pd.DataFrame | None = None, **kwargs) -> pn.widgets.Tabulator:
    options = {
        "disabled": True,
        "show_index": False,
        "sizing_mode": "stretch_width",
        "layout": "fit_data_table",
        "theme": "simple",
    } | kwargs
    return pn.widgets.Tabulator(value if value is not None else pd.DataFrame(), **options)


def keyed(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """`frame` indexed by the values of `column` (unnamed index, so Tabulator keeps both)."""
    if frame.empty:
        return frame
    return frame.set_axis(pd.Index(frame[column].to_numpy()), axis=0)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    equal = (a == b) | (a.isna() & b.isna())
    return equal.all(axis=1)


def sync_table(widget: pn.widgets.Tabulator, new: pd.DataFrame, rollover: int | None = None):
    """Update a Tabulator with the least traffic: stream new rows, patch changed ones, and
    replace the frame only when rows disappear or the columns change."""
    old = widget.value
    if (
        old is None
        or old.empty
        or list(old.columns) != list(new.columns)
        or new.index.has_duplicates
        or not old.index.isin(new.index).all()
    ):
        if old is None or not old.equals(new):
            widget.value = new
        return
    common = new.loc[old.index].astype(object)
    changed = common[~_same(common, old.astype(object))]
    if not changed.empty:
        widget.patch(changed)
    added = new.loc[~new.index.isin(old.index)]
    if not added.empty:
        widget.stream(added, rollover=rollover, reset_index=False)
