"""Command Center (the default view), after the spec's sketch."""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from panel_app.models.command_center import CommandCenterModel
from panel_app.views.common import chip, money, set_html, sync_table, table
from panel_app.views.html import Html, fmt, join, token


def _pnl_text(statement) -> str:
    gross, _, net = statement
    return f"net {money(net, True)} · gross {money(gross, True)}"


def header_html(model: CommandCenterModel) -> Html:
    """The status line: venue, mode, spot, the primary mode's balance and session P&L."""
    b = model.badge
    spot = join(
        fmt('<span class="ud-figure ud-spot-{}">{}: {}</span>', token(a), a, f"${p:,.2f}")
        for a, p in sorted(model.spot.items())
    ) or Html('<span class="ud-figure">no spot price in the last 10 min</span>')
    bal = model.balance
    agree = bal.get("agree")
    check = (
        ""
        if agree is None
        else (" ✓ = expected" if agree else f" ✗ expected {money(bal.get('expected'))}")
    )
    balance = "no balance reported" if bal.get("venue") is None else money(bal.get("venue"))
    return fmt(
        '<span class="ud-badge ud-venue-{venue_cls}" id="ud-venue">{venue}</span>'
        '<span class="ud-badge ud-mode-{mode_cls}" id="ud-mode">{mode}</span>'
        "{spot}"
        '<span class="ud-figure ud-balance">Balance: {balance}{check}</span>'
        '<span class="ud-figure ud-session-pnl">Session P&amp;L: {pnl}</span>'
        '<span class="ud-figure ud-trading-state">{state} (kill_switch={kill})</span>',
        venue_cls=token(b.get("venue")),
        venue=b.get("venue"),
        mode_cls=token(b.get("mode")),
        mode=b.get("mode"),
        state=b.get("trading_state"),
        kill=b.get("kill_switch"),
        spot=spot,
        balance=balance,
        check=check,
        pnl=_pnl_text(model.session_shown()),
    )


def money_html(model: CommandCenterModel) -> Html:
    """Cash, receivable and open exposure per mode: the primary first, the copies labelled as
    simulated beside it (never added to it)."""
    lines = []
    primary = model.badge.get("mode")
    for row in model.money_by_mode:
        mode = row["mode"]
        label = mode if mode == primary else f"{mode} copy (simulated)"
        cash, ledger = row.get("venue"), row.get("ledger")
        if cash is not None:
            cash = money(cash)
        else:  # a simulated copy has no venue: its engine's own ledger is its cash
            cash = "not reported" if ledger is None else money(ledger) + " (ledger)"
        receivable = money(row.get("receivable") or 0)
        lines.append(
            fmt(
                '<div class="ud-money ud-money-{cls}" data-mode="{mode}"><b>{label}</b> · '
                'cash <span class="ud-cash">{cash}</span> · receivable '
                '<span class="ud-receivable">{receivable}</span> ({awaiting} awaiting '
                "redemption; {redeemed} redeemed, {redeemed_usd}) · open exposure "
                '<span class="ud-exposure">{exposure}</span> · session P&amp;L '
                '<span class="ud-mode-pnl">{pnl}</span></div>',
                cls=token(mode),
                mode=mode,
                label=label,
                cash=cash,
                receivable=receivable,
                awaiting=row.get("awaiting", 0),
                redeemed=row.get("redeemed", 0),
                redeemed_usd=money(row.get("redeemed_usd") or 0),
                exposure=money(row.get("exposure") or 0),
                pnl=_pnl_text(row["pnl"]),
            )
        )
    return join(lines)


def positions_html(model: CommandCenterModel) -> Html:
    """Open positions as the spec writes them: `BTC UP $0.52 → $0.55 +$0.15`, then the mode,
    strategy and the lifecycle (one step per state transition)."""
    frame = model.positions_shown()
    if frame.empty:
        return Html('<div class="ud-position-none">no open position</div>')
    return join(
        fmt(
            '<div class="ud-position" data-position-id="{pid}" title="{pid}">'
            "<b>{asset} {side} {entry} → {mark} {pnl}</b> "
            '<span class="ud-position-detail">{mode} · {strategy} · {window} · {lifecycle}'
            "</span></div>",
            pid=pid,
            asset=r["asset"],
            side=r["side"],
            entry=f"${r['entry']:.2f}",
            mark=f"${r['mark']:.2f}",
            pnl=money(r["pnl"], True),
            mode=r["mode"],
            strategy=r["strategy"],
            window=r["instrument"],
            lifecycle=r["lifecycle"],
        )
        for pid, r in frame.iterrows()
    )


def activity_html(model: CommandCenterModel) -> Html:
    """The activity feed, newest first, one whole sentence per line (wrapped, never cut); each
    line's `data-ref` is `KIND:ref` (the fill id, client order id, signal id, …)."""
    feed = model.activity
    if feed.empty:
        return Html('<div class="ud-activity-none">nothing happened yet this session</div>')
    return join(
        fmt(
            '<div class="ud-activity ud-activity-{}" data-ref="{}">'
            '<span class="ud-time">{}</span> {}</div>',
            token(r["kind"]),
            ref,
            r["time"],
            r["event"],
        )
        for ref, r in feed.iterrows()
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
        self._money = pn.pane.HTML("", sizing_mode="stretch_width")
        self._strategies = pn.pane.HTML("", width=260)
        self._pnl = table(name="pnl_by_mode")
        self._positions = pn.pane.HTML("", sizing_mode="stretch_width")
        self._activity = pn.pane.HTML(
            "", sizing_mode="stretch_width", styles={"max-height": "420px", "overflow-y": "auto"}
        )
        self._layout = pn.Column(
            pn.Row(self._header, pn.Column(buttons, strip, width=520)),
            self._money,
            pn.Row(
                pn.Column(self._strategies, "**P&L by mode (gross vs net)**", self._pnl, width=520),
                pn.Column("### OPEN POSITIONS", self._positions, sizing_mode="stretch_width"),
            ),
            "### ACTIVITY FEED",
            self._activity,
            sizing_mode="stretch_width",
        )

    def update(self, *, events: bool) -> None:
        set_html(self._header, header_html(self.model))
        if events:
            set_html(self._money, money_html(self.model))
            set_html(self._strategies, strategies_html(self.model))
            sync_table(self._pnl, self.model.pnl_shown())
            set_html(self._positions, positions_html(self.model))
            set_html(self._activity, activity_html(self.model))

    def __panel__(self):
        return self._layout
