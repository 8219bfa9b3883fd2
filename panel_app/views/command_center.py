"""Command Center (the default view), after the spec's sketch."""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from panel_app.models.command_center import CommandCenterModel
from panel_app.views.common import chip, money, set_html, sync_table, table
from panel_app.views.html import Html, fmt, join, token


def header_html(model: CommandCenterModel) -> Html:
    b = model.badge
    spot = join(
        fmt('<span class="ud-figure ud-spot-{}">{}: {}</span>', token(a), a, f"${p:,.2f}")
        for a, p in sorted(model.spot.items())
    ) or Html('<span class="ud-figure">spot —</span>')
    bal = model.balance
    agree = bal.get("agree")
    check = (
        ""
        if agree is None
        else (" ✓ = expected" if agree else f" ✗ expected {money(bal.get('expected'))}")
    )
    owed = Html("")
    if bal.get("receivable") is not None:
        owed = fmt(
            '<span class="ud-figure ud-receivable">Receivable: {} ({} awaiting redemption; '
            "{} redeemed, {})</span>",
            money(bal.get("receivable")),
            bal.get("awaiting", 0),
            bal.get("redeemed", 0),
            money(bal.get("redeemed_usd") or 0),
        )
    gross, _, net = model.session_shown()
    return fmt(
        '<span class="ud-badge ud-venue-{venue_cls}" id="ud-venue">{venue}</span>'
        '<span class="ud-badge ud-mode-{mode_cls}" id="ud-mode">{mode}</span>'
        '<span class="ud-figure ud-trading-state">state: {state} '
        "(kill_switch={kill})</span><br>{spot}"
        '<span class="ud-figure ud-balance">Balance: {balance}{check}</span>{owed}'
        '<span class="ud-figure ud-session-pnl">Session P&amp;L: gross '
        "{gross} · net {net}</span>",
        venue_cls=token(b.get("venue")),
        venue=b.get("venue"),
        mode_cls=token(b.get("mode")),
        mode=b.get("mode"),
        state=b.get("trading_state"),
        kill=b.get("kill_switch"),
        spot=spot,
        balance=money(bal.get("venue")),
        check=check,
        owed=owed,
        gross=money(gross, True),
        net=money(net, True),
    )


def strategies_html(model: CommandCenterModel) -> Html:
    icon = {"active": "●", "paused": "‖", "disabled_kill_criterion": "×", "not_promoted": "○"}
    rows = [
        fmt(
            '<div class="ud-strategy">{} {} {}</div>',
            icon.get(r["state"], "?") if isinstance(r["state"], str) else "?",
            r["strategy"],
            chip(r["state"], r["state"], f"source: {r['source']}"),
        )
        for _, r in model.strategies.iterrows()
    ]
    return join([Html("<b>STRATEGIES</b>"), join(rows) or Html("<div>none known</div>")])


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
