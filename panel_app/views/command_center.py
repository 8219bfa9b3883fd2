"""Command Center (the default view), after the spec's sketch."""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from panel_app.models.command_center import CommandCenterModel
from panel_app.views.common import chip, esc, money, set_html, sync_table, table


def header_html(model: CommandCenterModel) -> str:
    b = model.badge
    spot = (
        " ".join(
            f'<span class="ud-figure ud-spot-{a}">{a}: ${p:,.2f}</span>'
            for a, p in sorted(model.spot.items())
        )
        or '<span class="ud-figure">spot —</span>'
    )
    bal = model.balance
    agree = bal.get("agree")
    check = (
        ""
        if agree is None
        else (" ✓ = expected" if agree else f" ✗ expected {money(bal.get('expected'))}")
    )
    owed = ""
    if bal.get("receivable") is not None:
        owed = (
            f'<span class="ud-figure ud-receivable">Receivable: {money(bal.get("receivable"))} '
            f"({bal.get('awaiting', 0)} awaiting redemption; {bal.get('redeemed', 0)} redeemed, "
            f"{money(bal.get('redeemed_usd') or 0)})</span>"
        )
    gross, _, net = model.session_shown()
    return (
        f'<span class="ud-badge ud-venue-{esc(b.get("venue"))}" id="ud-venue">'
        f"{esc(b.get('venue'))}</span>"
        f'<span class="ud-badge ud-mode-{esc(b.get("mode"))}" id="ud-mode">'
        f"{esc(b.get('mode'))}</span>"
        f'<span class="ud-figure ud-trading-state">state: {esc(b.get("trading_state"))} '
        f"(kill_switch={esc(b.get('kill_switch'))})</span><br>{spot}"
        f'<span class="ud-figure ud-balance">Balance: {money(bal.get("venue"))}{check}</span>'
        f"{owed}"
        f'<span class="ud-figure ud-session-pnl">Session P&amp;L: gross '
        f"{money(gross, True)} · net {money(net, True)}</span>"
    )


def strategies_html(model: CommandCenterModel) -> str:
    icon = {"active": "●", "paused": "‖", "disabled_kill_criterion": "×", "not_promoted": "○"}
    rows = [
        f'<div class="ud-strategy">{icon.get(r["state"], "?")} {esc(r["strategy"])} '
        f"{chip(r['state'], r['state'], 'source: ' + r['source'])}</div>"
        for _, r in model.strategies.iterrows()
    ]
    return "<b>STRATEGIES</b>" + ("".join(rows) or "<div>none known</div>")


class CommandCenter(Viewer):
    def __init__(self, model: CommandCenterModel, buttons, strip, **params) -> None:
        super().__init__(**params)
        self.model = model
        self._header = pn.pane.HTML("", sizing_mode="stretch_width")
        self._strategies = pn.pane.HTML("", width=260)
        self._pnl = table(name="pnl_by_mode")
        self._positions = table(name="open_positions", show_index=True)
        self._activity = table(
            name="activity",
            height=360,
            show_index=False,
        )
        self._layout = pn.Column(
            pn.Row(self._header, pn.Column(buttons, strip, width=520)),
            pn.Row(
                pn.Column(self._strategies, "**P&L by mode (gross vs net)**", self._pnl, width=300),
                pn.Column("### OPEN POSITIONS", self._positions, sizing_mode="stretch_width"),
            ),
            "### ACTIVITY FEED",
            self._activity,
            sizing_mode="stretch_width",
        )

    def update(self, *, events: bool) -> None:
        set_html(self._header, header_html(self.model))
        if events:
            set_html(self._strategies, strategies_html(self.model))
            sync_table(self._pnl, self.model.pnl_shown())
            sync_table(self._positions, self.model.positions_shown())
            # Newest first: new rows land at the top, which Tabulator's stream (append) cannot
            # do, so the (≤ 200-row) feed is replaced when it changes.
            if not self._activity.value.equals(self.model.activity):
                self._activity.value = self.model.activity

    def __panel__(self):
        return self._layout
