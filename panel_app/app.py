"""Composition of the cockpit: shared models per process, one page per browser session, serve().

Per process: one CockpitState + Poller (panel_app.poller.shared) and the shared derived models
(health bar, command center, risk), refreshed by the poller thread after each publish. Per
session: the views, the per-session models (trade filters, instrument choice, control desk) and
one cheap periodic callback that compares version numbers — it never queries the database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import panel as pn

from live.store import db
from panel_app import poller, queries
from panel_app.auth import SESSION_COOKIE, AuthConfig, request_session, routes
from panel_app.models.command_center import CommandCenterModel
from panel_app.models.controls import ControlDesk
from panel_app.models.health import HealthBarModel
from panel_app.models.instrument import InstrumentModel
from panel_app.models.risk import RiskModel
from panel_app.models.state import CockpitState
from panel_app.models.trades import TradeHistoryModel
from panel_app.views.command_center import CommandCenter
from panel_app.views.common import CSS, keyed, sync_table, table
from panel_app.views.controls import ConfirmStrip, ControlsEditor, KillSwitchButtons
from panel_app.views.health_bar import HealthBar
from panel_app.views.html import Html, fmt
from panel_app.views.instrument import InstrumentView
from panel_app.views.risk import RiskView
from panel_app.views.trades import TradeHistory

SESSION_TICK_MS = 100
TAB_NAMES = ("Command Center", "Instrument Deep Dive", "Risk", "Trade History")


@dataclass
class Shared:
    """The process-wide state and the models every session reads."""

    cockpit: CockpitState
    health: HealthBarModel
    command: CommandCenterModel
    risk: RiskModel


_SHARED: dict[str, Shared] = {}


def shared_models(url: str) -> Shared:
    """Create (once per URL and process) the poller, its state and the shared models."""
    if url not in _SHARED:
        cockpit = poller.shared(url)
        models = Shared(
            cockpit,
            HealthBarModel(cockpit=cockpit),
            CommandCenterModel(cockpit=cockpit),
            RiskModel(cockpit=cockpit),
        )
        cockpit.derive(models.health.refresh)
        cockpit.derive(models.command.refresh)
        _SHARED[url] = models
    return _SHARED[url]


def control_writer(url: str):
    def write(key: str, value: str, by: str) -> str | None:
        with db.connect(url) as conn:
            return queries.write_control(conn, key, value, by)

    return write


def session_desk(url: str, auth: AuthConfig) -> ControlDesk:
    """This session's control desk. The user comes from the server-side login session named by
    the HttpOnly cookie of the request that opened the page (that cookie is kept out of the
    Bokeh session token, so page script never sees it); every action re-checks the session."""
    login = request_session(auth, pn.state.curdoc.session_context.request)
    sid = login.sid if login else None
    return ControlDesk(
        control_writer(url),
        alive=lambda: auth.user_of(sid),
        user=login.user if login else None,
        csrf=login.csrf if login else "",
        auth_configured=auth.enabled,
    )


class Page:
    """One browser session's page."""

    def __init__(self, url: str, auth: AuthConfig) -> None:
        shared = self.shared = shared_models(url)
        self.desk = session_desk(url, auth)
        strip = ConfirmStrip(self.desk)
        self.health = HealthBar(shared.health)
        self.command = CommandCenter(shared.command, KillSwitchButtons(self.desk, strip), strip)
        self.feeds = table(name="feeds")
        self.instrument = InstrumentView(InstrumentModel(cockpit=shared.cockpit), self.feeds)
        self.risk = RiskView(shared.risk, ControlsEditor(self.desk, ConfirmStrip(self.desk)))
        self.trades = TradeHistory(TradeHistoryModel(cockpit=shared.cockpit))
        self._seen = (-1, -1)
        self._stale: set[int] = set(range(len(TAB_NAMES)))
        self.tabs = pn.Tabs(
            *zip(TAB_NAMES, (self.command, self.instrument, self.risk, self.trades), strict=True),
            dynamic=False,
            sizing_mode="stretch_width",
        )
        self.tabs.param.watch(self._on_tab, "active")

    def tick(self) -> None:
        """Per-session periodic callback: re-render only when the shared version moved, and
        only the visible tab (the others are marked stale and caught up when shown)."""
        cockpit = self.shared.cockpit
        version, events_version = cockpit.version, cockpit.events_version
        if (version, events_version) == self._seen:
            return
        if events_version != self._seen[1]:
            self._stale = set(range(len(TAB_NAMES)))
        self._seen = (version, events_version)
        with pn.io.hold():
            self.health.update()
            self._update_tab(self.tabs.active)

    def _update_tab(self, index: int) -> None:
        events = index in self._stale
        self._stale.discard(index)
        if index == 0:
            self.command.update(events=events)
        elif index == 1:
            sync_table(self.feeds, keyed(self.shared.health.feeds, "feed"))
            self.instrument.update(events=events)
        elif index == 2:
            self.risk.update(events=events)
        else:
            if events:
                self.trades.model.refresh()
            self.trades.update(events=events)

    def _on_tab(self, event) -> None:
        with pn.io.hold():
            self._update_tab(event.new)

    def layout(self) -> pn.viewable.Viewable:
        title = pn.pane.HTML(Html("<b style='font-size:20px'>updown cockpit</b>"), margin=(5, 10))
        return pn.Column(
            pn.Row(title, sizing_mode="stretch_width"),
            self.health,
            self.tabs,
            sizing_mode="stretch_width",
        )


def create_page(url: str, auth: AuthConfig) -> pn.viewable.Viewable:
    """The Panel app factory: one call per browser session. A Host that is not allowed (DNS
    rebinding: another site's name pointing here) gets a refusal and no data."""
    pn.extension("tabulator", raw_css=[CSS], notifications=False)
    host = pn.state.headers.get("Host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if not auth.host_allowed(name):
        return pn.pane.HTML(fmt("<b>host {} is not allowed</b>", host))
    page = Page(url, auth)
    page.tick()
    pn.state.add_periodic_callback(page.tick, period=SESSION_TICK_MS)
    return page.layout()


def serve(
    url: str,
    *,
    port: int = 5006,
    address: str = "127.0.0.1",
    auth: AuthConfig | None = None,
    threaded: bool = False,
    show: bool = False,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    xheaders: bool = False,
):
    """Serve the cockpit. Login/logout and the control API act only with named operators;
    viewing is open (guests) either way. TLS: a certificate and key here, or a proxy in front
    with `xheaders` (docs/security.md)."""
    auth = auth or AuthConfig.from_env(url)
    if auth.database_url is None:
        auth.database_url = url
    shared_models(url)
    hosts = {"127.0.0.1", "localhost", address, *auth.allowed_hosts}
    tls = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile} if ssl_certfile else {}
    return pn.serve(
        {"/": lambda: create_page(url, auth)},
        port=port,
        address=address,
        show=show,
        threaded=threaded,
        title="updown cockpit",
        verbose=False,
        websocket_origin=sorted(f"{h}:{port}" for h in hosts)
        + sorted(h for h in auth.allowed_hosts),
        extra_patterns=routes(auth, url),
        # The login cookie (and any credential header) stays out of the session token that
        # Bokeh embeds in the page, where page script could read it.
        exclude_cookies=[SESSION_COOKIE],
        exclude_headers=["Cookie", "Authorization"],
        # Signed session ids and tokens: a client cannot forge a token (its headers, e.g. the
        # Host that create_page checks) to open a session of its own over the websocket.
        sign_sessions=True,
        secret_key=secrets.token_urlsafe(48),
        use_xheaders=xheaders,
        **tls,
    )
