"""Instrument Deep Dive view: one asset at a time."""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from panel_app.models.instrument import InstrumentModel
from panel_app.models.money import shown
from panel_app.views.common import chip, set_html, sync_table, table
from panel_app.views.html import Html, fmt, join


def window_html(model: InstrumentModel) -> Html:
    w, book = model.window, model.book
    spot = "—" if model.spot is None else f"${model.spot:,.2f}"
    if w is None:
        head = fmt("<b>{}</b>: no window open now · oracle {}", model.asset, spot)
    else:
        head = fmt(
            '<b class="ud-window-slug">{slug}</b> · time left '
            '<span class="ud-time-left">{left} s</span> · strike '
            '{strike} · oracle <span class="ud-oracle">{spot}</span> · '
            "conditionId {cond}<br>tokens: UP {up} / DOWN {down}",
            slug=w["slug"],
            left=w["time_left_s"],
            strike=w["strike"],
            spot=spot,
            cond=w["condition_id"] or "MISSING",
            up=w["token_up"],
            down=w["token_down"],
        )
    parts = [head]
    if book:
        parts.append(
            fmt(
                "<br>CLOB (UP token): bid {} · ask {} · "
                '<span class="ud-mid">mid {}</span> · age {} s',
                book["bid"],
                book["ask"],
                book["mid"],
                book["age_s"],
            )
        )
    else:
        parts.append(Html("<br>CLOB: no book in the last 10 minutes"))
    token_ok = str(model.token_status).startswith("valid")
    parts += [
        Html("<br>"),
        chip(
            f"token ids: {model.token_status}",
            "green" if token_ok else "red",
            "",
            "ud-token-status",
        ),
    ]
    if model.missing_condition:
        parts.append(
            chip(
                f"missing conditionId: {', '.join(map(str, model.missing_condition))}",
                "red",
                "",
                "ud-missing-condition",
            )
        )
    else:
        parts.append(chip("conditionId present on every window", "green"))
    return join(parts)


class InstrumentView(Viewer):
    def __init__(self, model: InstrumentModel, feeds_table, **params) -> None:
        super().__init__(**params)
        self.model = model
        self._asset = pn.widgets.RadioButtonGroup.from_param(
            model.param.asset, button_type="primary"
        )
        self._window = pn.pane.HTML("", sizing_mode="stretch_width")
        self._positions = table(name="instrument_positions")
        self._signals = table(name="instrument_signals")
        self._history = table(name="instrument_history")
        self._completeness = table(name="instrument_completeness")
        self._feeds = feeds_table
        model.param.watch(lambda *_: self.update(events=True), ["asset"])

    def update(self, *, events: bool) -> None:
        self.model.refresh()  # cheap, and time-left / spot / book move every second
        set_html(self._window, window_html(self.model))
        sync_table(self._positions, shown(self.model.positions, amounts=("pnl_gross",)))
        sync_table(self._signals, self.model.signals)
        sync_table(self._history, shown(self.model.history, amounts=("net",)))
        sync_table(self._completeness, self.model.completeness)

    def __panel__(self):
        return pn.Column(
            self._asset,
            self._window,
            pn.Row(
                pn.Column("### Our open positions", self._positions),
                pn.Column("### Feed health (age, ticks/s, out-of-order)", self._feeds),
            ),
            "### What each strategy sees now (latest signal and its inputs)",
            self._signals,
            pn.Row(
                pn.Column("### Historical P&L by window (net)", self._history),
                pn.Column("### Data completeness per feed per window (%)", self._completeness),
            ),
            sizing_mode="stretch_width",
        )
