"""Trade History view: filters, settlement verification, slippage, gross vs net, CSV export."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure
from panel.viewable import Viewer

from panel_app.models.trades import TradeHistoryModel
from panel_app.views.common import money, set_html, table
from panel_app.views.html import Html, fmt, join

FILTERS = ("strategy", "instrument", "mode", "outcome", "date_from", "date_to")


def run_data(kind: str, summary: dict) -> str:
    """What a run ran on, from its summary: windows used (clean / tainted by a feed gap) and
    excluded with their reasons for a backtest; events and settlements for a replay; cells for a
    sweep; the summary's keys otherwise."""
    if "windows_used" in summary:
        reasons = summary.get("excluded_reasons") or {}
        why = "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
        excluded = summary.get("windows_excluded", 0)
        return (
            f"{summary['windows_used']} windows used ({summary.get('windows_clean', 0)} clean, "
            f"{summary.get('windows_tainted', 0)} tainted by feed gaps); {excluded} excluded"
            + (f" ({why})" if why else "")
        )
    if "events" in summary:
        settled = summary.get("settlements") or {}
        tally = ", ".join(f"{k} {v}" for k, v in sorted(settled.items()))
        return f"{summary['events']} events replayed; settlements: {tally or 'none'}"
    if "cells" in summary:
        return f"{summary['cells']} parameter cells"
    if not summary:
        return f"{kind} run without a summary (not finished)"
    return ", ".join(f"{k}={v}" for k, v in sorted(summary.items()))


def runs_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Backtest/replay runs with the data they ran on (windows used, tainted and excluded),
    fill model and latencies."""
    if runs.empty:
        return runs
    summary = runs["summary"].apply(lambda s: s if isinstance(s, dict) else {})
    return pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "kind": runs["kind"],
            "mode": runs["mode"],
            "strategy": runs["strategy"],
            "data (windows used / excluded)": [
                run_data(k, s) for k, s in zip(runs["kind"], summary, strict=True)
            ],
            "integrity (look-ahead check)": summary.apply(
                lambda s: s.get("lookahead_check") or "not checked"
            ),
            "slippage/fill model": runs["fill_model"].fillna("not set"),
            "latency offsets ms": runs["latency_ms"].apply(
                lambda v: json.dumps(v) if v else "none"
            ),
        }
    )


def summary_html(model: TradeHistoryModel, count: int) -> Html:
    """Above the table: the trade count, gross − fees = net (closed trades, as shown) and the
    settlement-verification tally."""
    gross, fees, net = model.gross_net()
    verdicts = join((f"{k}: {v}" for k, v in model.settlement_summary().items()), " · ")
    return fmt(
        '<span class="ud-trade-count">{} trades</span> · '
        '<span class="ud-gross-net">gross {} − fees {} = net '
        '{}</span><br><span class="ud-settlement-summary">settlement '
        "verification (ours vs venue): {}</span>",
        count,
        money(gross, True),
        money(fees),
        money(net, True),
        verdicts or "—",
    )


class TradeHistory(Viewer):
    def __init__(self, model: TradeHistoryModel, **params) -> None:
        super().__init__(**params)
        self.model = model
        self._filters = pn.Param(
            model.param,
            parameters=list(FILTERS),
            show_name=False,
            default_layout=pn.Row,
            widgets={"date_from": pn.widgets.DatePicker, "date_to": pn.widgets.DatePicker},
        )
        self._count = pn.pane.HTML("")
        self._table = table(name="trades", height=420, pagination=None)
        self._download = pn.widgets.FileDownload(
            callback=self._csv,
            filename="trades.csv",
            label="Export CSV (filtered rows)",
            button_type="primary",
            width=260,
        )
        self._source = ColumnDataSource({"left": [], "right": [], "count": []})
        fig = figure(
            height=200,
            width=420,
            title="Slippage (actual − intended), entries + exits",
            toolbar_location=None,
        )
        fig.quad(
            left="left",
            right="right",
            top="count",
            bottom=0,
            source=self._source,
            fill_color="#1565c0",
            line_color="white",
        )
        self._hist = pn.pane.Bokeh(fig)
        self._runs = table(name="runs")
        model.param.watch(lambda *_: self.render(), list(FILTERS))

    def _csv(self) -> io.StringIO:
        return io.StringIO(self.model.to_csv())

    def update(self, *, events: bool) -> None:
        if events:
            self.render()

    def render(self) -> None:
        rows = self.model.shown()
        if not self._table.value.equals(rows):
            self._table.value = rows
        set_html(self._count, summary_html(self.model, len(rows)))
        slip = self.model.slippage()
        counts, edges = np.histogram(slip, bins=10) if len(slip) else ([], np.array([]))
        self._source.data = {
            "left": list(edges[:-1]),
            "right": list(edges[1:]),
            "count": list(counts),
        }
        runs = runs_frame(self.model.runs)
        if not self._runs.value.equals(runs):
            self._runs.value = runs

    def __panel__(self):
        return pn.Column(
            self._filters,
            pn.Row(self._count, self._download),
            self._table,
            pn.Row(
                self._hist,
                pn.Column("### Backtest / replay runs", self._runs, sizing_mode="stretch_width"),
            ),
            sizing_mode="stretch_width",
        )
