"""Risk view: drawdown, per-strategy P&L, exit triggers, controls editor, assertions, machines."""

from __future__ import annotations

import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure
from panel.viewable import Viewer

from panel_app.models.risk import RiskModel
from panel_app.views.common import chip, keyed, money, set_html, sync_table, table
from panel_app.views.html import Html, fmt, join


def assertions_html(model: RiskModel) -> Html:
    rows = [
        fmt(
            '<tr class="ud-assertion" data-name="{name}"><td>{n}</td><td>{status}</td>'
            "<td>{name}</td><td>{check}</td><td>{modes}</td><td>{checked}</td>"
            '<td class="ud-last-failure">{last} {detail}</td></tr>',
            n=n,
            status=chip(a["status"], a["status"], a["failure_detail"], "ud-assertion-status"),
            name=a["assertion"],
            check=a["check"],
            modes=a["modes"],
            checked=a["checked"],
            last=a["last_failure"],
            detail=a["failure_detail"],
        )
        for n, a in model.assertions.iterrows()
    ]
    head = Html(
        "<tr><th>#</th><th>status</th><th>name</th><th>check</th><th>by mode</th>"
        "<th>last checked</th>"
        "<th>last failure</th></tr>"
    )
    return fmt('<table class="ud-assertions">{}{}</table>', head, join(rows))


def machine_html(title: str, counts: dict[str, int]) -> Html:
    boxes = join(
        (
            fmt(
                '<span class="ud-state-box {}" data-state="{}">{}: {}</span>',
                "ud-on" if n else "",
                s,
                s,
                n,
            )
            for s, n in counts.items()
        ),
        " → ",
    )
    return fmt("<b>{}</b><div>{}</div>", title, boxes)


class RiskView(Viewer):
    def __init__(self, model: RiskModel, editor, **params) -> None:
        super().__init__(**params)
        self.model = model
        self._source = ColumnDataSource({"ts": [], "equity": [], "drawdown": []})
        fig = figure(
            height=240,
            sizing_mode="stretch_width",
            x_axis_type="datetime",
            title="Session equity (net) and drawdown, USD",
            toolbar_location=None,
        )
        fig.line("ts", "equity", source=self._source, legend_label="equity", line_width=2)
        fig.varea(
            x="ts",
            y1="drawdown",
            y2=0,
            source=self._source,
            fill_alpha=0.3,
            fill_color="#c62828",
            legend_label="drawdown",
        )
        fig.legend.location = "top_left"
        self._chart = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self._max_dd = pn.pane.HTML("")
        self._strategy = table(name="per_strategy")
        self._triggers = table(name="triggers")
        self._controls = table(name="controls")
        self._assertions = pn.pane.HTML("", sizing_mode="stretch_width")
        self._machines = pn.pane.HTML("", sizing_mode="stretch_width")
        self._breakers = table(name="breakers")
        self._layout = pn.Column(
            self._chart,
            self._max_dd,
            pn.Row(
                pn.Column("### Per-strategy P&L", self._strategy),
                pn.Column("### Runtime controls", self._controls, editor),
            ),
            "### Stop-loss / take-profit / trailing triggers (trigger vs intended vs actual)",
            self._triggers,
            "### Runtime assertions",
            self._assertions,
            "### State machines",
            self._machines,
            "### Circuit breaker",
            self._breakers,
            sizing_mode="stretch_width",
        )

    def update(self, *, events: bool) -> None:
        if not events:
            return
        self.model.ensure_fresh()
        dd = self.model.drawdown
        self._source.data = {
            "ts": list(dd["ts"]),
            "equity": list(dd["equity"]),
            "drawdown": list(dd["drawdown"]),
        }
        worst = money(self.model.max_drawdown())
        guard = self.model.drawdown_limit()
        set_html(
            self._max_dd,
            fmt(
                '<span class="ud-max-drawdown">max drawdown: {}</span> · '
                '<span class="ud-drawdown-limit {}">breaker at {} USD (alert at {}){}</span>',
                worst,
                "ud-red" if guard["tripped"] else "",
                guard["limit"],
                guard["alert_at"],
                " — TRIPPED" if guard["tripped"] else "",
            ),
        )
        sync_table(self._strategy, self.model.per_strategy_shown())
        sync_table(self._triggers, self.model.triggers)
        sync_table(self._controls, keyed(self.model.controls, "key"))
        set_html(self._assertions, assertions_html(self.model))
        set_html(
            self._machines,
            join(
                [
                    machine_html(
                        "Positions (session) by lifecycle state", self.model.position_states
                    ),
                    Html("<br>"),
                    machine_html("Orders (session) by state", self.model.order_states),
                ]
            ),
        )
        sync_table(self._breakers, self.model.breakers)

    def __panel__(self):
        return self._layout
