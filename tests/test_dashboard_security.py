"""Security of the cockpit (issue 22), in headless Chromium against an in-process server.

- XSS sweep: the seeded session with a hostile string appended to every text column of every
  table (and every string of every JSON document) the dashboard reads, and a runner health
  endpoint answering hostile JSON; every view is rendered as a logged-in operator and no element
  may carry an event handler, no script may run (dialogs recorded), no control may change.
- CSRF: a page on another local port attacks the control endpoint the ways the probe did
  (no-cors text/plain "charset=application/json", a form POST, a JSON fetch): refused, nothing
  written. The endpoint's own checks (Origin, exact JSON, CSRF token) one by one.
- Sessions: the Bokeh session token never carries the login cookie; logout revokes the session
  server-side (the captured cookie is refused, an open page's PAUSE is refused); idle expiry.
- Login throttling with backoff and the lockout alert; allowed Hosts.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psycopg
import pytest
from dashboard_seed import health_json, seeded_database
from playwright.sync_api import expect, sync_playwright

from panel_app import poller
from panel_app.app import serve
from panel_app.auth import BACKOFF_BASE_S, FREE_FAILURES, SESSION_COOKIE, AuthConfig
from panel_app.testing import (
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    launch_chromium,
    open_cockpit,
    show_tab,
    wait_http,
)

pytestmark = [pytest.mark.slow, pytest.mark.isolated]
PASSWORD = "a long operator password"
HOSTILE = "<img src=x onerror=alert(1)>\"'><svg/onload=alert(2)><script>alert(3)</script>"
NAME_KEYS = {"feeds", "strategies", "assertions", "excluded_windows", "latency_ms"}
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
KEEP = {"kind"}  # a journal row's kind selects oracle ticks and books: kept so they render
ON_ATTRIBUTES = """() => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      for (const a of el.attributes) {
        if (a.name.toLowerCase().startsWith('on')) found.push(el.tagName + ' ' + a.name);
      }
      if (el.tagName === 'SCRIPT' && (el.textContent || '').includes('alert(')) {
        found.push('SCRIPT ' + el.textContent.slice(0, 40));
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
}"""
ALL_TEXT = """() => {
  const parts = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
    }
    parts.push(root.textContent || '');
  };
  walk(document);
  return parts.join(' ');
}"""


class Clock:
    """A settable monotonic clock for the sessions and the throttle."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def hostile_json(value, parent: str | None = None):
    if isinstance(value, dict):
        return {
            (k + HOSTILE if parent in NAME_KEYS else k): (v if k in KEEP else hostile_json(v, k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [hostile_json(v, parent) for v in value]
    if isinstance(value, str) and not NUMBER.fullmatch(value):
        return value + HOSTILE  # numbers stay numbers: the read models cast them
    return value


def make_hostile(url: str) -> int:
    """Append HOSTILE to every text column and every JSON string the schema allows (a column
    whose CHECK refuses it keeps its value); returns the number of columns changed."""
    changed = 0
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")  # FKs: both sides change alike
        cols = conn.execute(
            """SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
            AND c.table_name NOT IN ('runtime_controls', 'schema_migrations')
            AND c.column_name <> 'kind'  -- the journal's kind selects oracle ticks and books
            AND c.data_type IN ('text', 'character varying', 'jsonb')"""
        ).fetchall()
        for table, column, kind in cols:
            try:
                with conn.transaction():
                    if kind == "jsonb":
                        rows = conn.execute(
                            f'SELECT ctid, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
                        ).fetchall()
                        for ctid, doc in rows:
                            conn.execute(
                                f'UPDATE "{table}" SET "{column}" = %s::jsonb WHERE ctid = %s',
                                (json.dumps(hostile_json(doc)), ctid),
                            )
                    else:
                        conn.execute(
                            f'UPDATE "{table}" SET "{column}" = "{column}" || %s', (HOSTILE,)
                        )
                changed += 1
            except psycopg.Error:
                continue
        conn.commit()
    return changed


@contextmanager
def hostile_health() -> Iterator[str]:
    """A stand-in for a process that bound the runner's health port: hostile JSON."""
    body = json.dumps(hostile_json(health_json(datetime.now(UTC)))).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()


@contextmanager
def attacker_site(html: str) -> Iterator[str]:
    """Another origin on this machine (a different local port) serving `html`."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def sql(url: str, query: str, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def state_of_controls(url: str):
    return (
        sql(url, "SELECT key, value FROM runtime_controls ORDER BY key"),
        sql(url, "SELECT count(*) FROM control_changes"),
    )


@contextmanager
def cockpit(url: str, auth: AuthConfig) -> Iterator[str]:
    port = free_port()
    thread = serve(url, port=port, auth=auth, threaded=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/api/session")
        yield base
    finally:
        thread.stop()
        poller.stop_all()


@pytest.fixture(scope="module")
def hostile(pg_admin_url, template_db):
    with (
        hostile_health() as health_url,
        seeded_database(pg_admin_url, template_db, health_url=health_url) as url,
    ):
        assert make_hostile(url) > 20
        yield url


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def base_url(hostile, clock):
    auth = AuthConfig.with_passwords({"alice": PASSWORD, "bob": PASSWORD}, clock=clock)
    with cockpit(hostile, auth) as base:
        yield base


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright):
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


def login(page, base_url: str, user: str = "alice", password: str = PASSWORD) -> None:
    page.goto(base_url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def session_cookie(context) -> str:
    (value,) = [c["value"] for c in context.cookies() if c["name"] == SESSION_COOKIE]
    return value


def test_every_view_renders_hostile_data_as_text(browser, base_url, hostile):
    before = state_of_controls(hostile)
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, base_url)
    open_cockpit(page, base_url)
    expect(page.locator(".ud-health")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(page.locator("[class*='ud-spot-BTC']").first).to_contain_text(HOSTILE)
    assert "dashboard poller" not in page.locator(".ud-health").inner_text()
    # Each view shows hostile text (as text) in its own visible content, then has no handler.
    shown = page.locator("text=onerror=alert(1) >> visible=true")
    for tab, selector in (
        ("Command Center", ".ud-strategy"),
        ("Instrument Deep Dive", ".tabulator-cell"),
        ("Risk", "tr.ud-assertion"),
        ("Trade History", ".tabulator-cell"),
    ):
        show_tab(page, tab)
        expect(
            page.locator(f"{selector} >> visible=true", has_text=HOSTILE[:28]).first
        ).to_be_visible()
        if tab == "Instrument Deep Dive":
            for asset in ("BTC", "ETH", "SOL", "XRP"):
                page.locator(".bk-btn-group .bk-btn >> visible=true", has_text=asset).click()
                expect(page.locator(".ud-health")).to_be_visible()
                assert page.evaluate(ON_ATTRIBUTES) == []
        assert page.evaluate(ON_ATTRIBUTES) == [], tab
        assert shown.count() > 0
    assert page.evaluate(ALL_TEXT).count("<svg/onload=alert(2)>") > 10
    assert dialogs == []
    assert state_of_controls(hostile) == before
    context.close()


def test_session_token_in_the_page_never_carries_the_login_cookie(browser, base_url):
    context = browser.new_context()
    page = context.new_page()
    login(page, base_url)
    open_cockpit(page, base_url)
    sid = session_cookie(context)
    cookie = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert sid not in page.evaluate("document.cookie")
    html = page.content()
    assert sid not in html
    tokens = re.findall(r'"token"\s*:\s*"([A-Za-z0-9_.-]+)"', html)
    assert tokens
    for token in tokens:
        body = token.split(".")[0]
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        assert sid not in json.dumps(payload)
        assert SESSION_COOKIE not in payload.get("cookies", {})
        assert "Cookie" not in payload.get("headers", {})
    context.close()


def test_cross_origin_attacks_on_the_control_endpoint_are_refused(browser, base_url, hostile):
    before = state_of_controls(hostile)
    context = browser.new_context()
    page = context.new_page()
    login(page, base_url, "bob")
    open_cockpit(page, base_url)
    api = base_url + "/api/controls"
    attack = f"""<html><body><form id=f method=post action="{api}"
      enctype="text/plain"><input name='{{"key":"kill_switch","value":"emergency","x":"'
      value='"}}'></form><script>
      window.results = [];
      const body = JSON.stringify({{key: "kill_switch", value: "emergency"}});
      const tries = [
        fetch("{api}", {{method: "POST", mode: "no-cors", credentials: "include",
          headers: {{"Content-Type": "text/plain; charset=application/json"}}, body}}),
        fetch("{api}", {{method: "POST", credentials: "include",
          headers: {{"Content-Type": "application/json"}}, body}}),
      ];
      Promise.allSettled(tries).then(r => {{ window.results = r.map(x => x.status);
        window.done = true; }});
    </script></body></html>"""
    with attacker_site(attack) as evil:
        evil_page = context.new_page()
        evil_page.goto(evil)
        evil_page.wait_for_function("window.done === true")
        with evil_page.expect_navigation():
            evil_page.evaluate("document.getElementById('f').submit()")
    assert state_of_controls(hostile) == before
    # The same request from the cockpit's own origin, step by step.
    sid = session_cookie(context)
    csrf = page.evaluate(
        "fetch('/api/session').then(r => r.json()).then(j => j.csrf)"
    )  # same origin: readable
    cookies = {SESSION_COOKIE: sid}
    good = {"Origin": base_url, "Content-Type": "application/json", "X-CSRF-Token": csrf}
    body = json.dumps({"key": "kill_switch", "value": "pause"})

    def post(**headers):
        merged = {k: v for k, v in (good | headers).items() if v is not None}
        return httpx.post(api, content=body, headers=merged, cookies=cookies, timeout=10)

    assert post(Origin="http://127.0.0.1:1").status_code == 403
    assert post(Origin=None).status_code == 403  # neither Origin nor Referer
    assert post(**{"Content-Type": "text/plain; charset=application/json"}).status_code == 415
    assert post(**{"X-CSRF-Token": None}).status_code == 403
    assert post(**{"X-CSRF-Token": "x" * 43}).status_code == 403
    assert state_of_controls(hostile) == before
    ok = post(Origin=None, Referer=base_url + "/")
    assert ok.status_code == 200, ok.text
    assert ok.json()["by"] == "dashboard:bob"
    assert sql(hostile, "SELECT value FROM runtime_controls WHERE key='kill_switch'") == [
        ("pause",)
    ]
    ((by, role),) = sql(
        hostile, "SELECT changed_by, db_role FROM control_changes ORDER BY id DESC LIMIT 1"
    )
    assert by == "dashboard:bob" and role
    refused = httpx.post(
        api,
        content=json.dumps({"key": "max_position_usd", "value": "5\n"}),
        headers=good,
        cookies=cookies,
        timeout=10,
    )
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("max_position_usd='5\\n' rejected")
    httpx.post(
        api, content=json.dumps({"key": "kill_switch", "value": "off"}), headers=good,
        cookies=cookies, timeout=10,
    ).raise_for_status()  # fmt: skip
    context.close()


def test_logout_revokes_the_session_server_side(browser, base_url, hostile, clock):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    login(page, base_url)
    open_cockpit(page, base_url)
    sid = session_cookie(context)
    csrf = page.evaluate("fetch('/api/session').then(r => r.json()).then(j => j.csrf)")
    other = context.new_page()  # a second tab stays open on the cockpit
    open_cockpit(other, base_url)
    page.get_by_role("button", name="log out").click()
    page.wait_for_url(base_url + "/")
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    before = state_of_controls(hostile)
    replay = httpx.post(
        base_url + "/api/controls",
        content=json.dumps({"key": "kill_switch", "value": "pause"}),
        headers={"Origin": base_url, "Content-Type": "application/json", "X-CSRF-Token": csrf},
        cookies={SESSION_COOKIE: sid},
        timeout=10,
    )
    assert replay.status_code == 401  # the captured cookie no longer works
    show_tab(other, "Command Center")
    other.get_by_role("button", name="PAUSE", exact=True).click()
    expect(other.locator(".ud-control-message").first).to_contain_text("session ended")
    assert state_of_controls(hostile) == before
    # Idle expiry: a session unused for longer than the idle time is gone.
    login(page, base_url)
    sid = session_cookie(context)
    assert (
        httpx.get(base_url + "/api/session", cookies={SESSION_COOKIE: sid}, timeout=10).status_code
        == 200
    )
    clock.now += 30 * 60 + 1
    assert (
        httpx.get(base_url + "/api/session", cookies={SESSION_COOKIE: sid}, timeout=10).status_code
        == 401
    )
    context.close()


def test_unknown_host_is_refused(playwright, base_url):
    """DNS rebinding: another site's name resolving here (Chromium maps rebind.example to
    127.0.0.1). The page then has the foreign Host, and its Origin equals that Host, which
    tornado's websocket check lets through: the cockpit itself refuses the Host and shows no
    data; the dashboard's own routes refuse it with 403."""
    port = base_url.rsplit(":", 1)[1]
    rebinding = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.example 127.0.0.1"],
    )
    page = rebinding.new_page()
    page.goto(f"http://rebind.example:{port}/")
    expect(page.get_by_text(f"host rebind.example:{port} is not allowed")).to_be_visible(
        timeout=30000
    )
    assert page.get_by_text("ACTIVITY FEED").count() == 0
    assert page.locator(".ud-health").count() == 0
    rebinding.close()
    evil = {"Host": f"rebind.example:{port}"}
    login = httpx.post(
        base_url + "/login", data={"username": "alice", "password": PASSWORD}, headers=evil
    )
    assert login.status_code == 403 and SESSION_COOKIE not in login.cookies
    assert httpx.get(base_url + "/api/session", headers=evil, timeout=10).status_code == 403
    assert httpx.get(base_url + "/login", timeout=10).status_code == 200  # localhost is fine


def test_login_throttling_backs_off_and_raises_one_lockout_alert(browser, hostile):
    clock = Clock()
    auth = AuthConfig.with_passwords({"alice": PASSWORD}, clock=clock)
    with cockpit(hostile, auth) as base:
        alerts_before = sql(
            hostile, "SELECT count(*) FROM alerts WHERE kind = 'dashboard_login_lockout'"
        )[0][0]
        statuses = [
            httpx.post(
                base + "/login", data={"username": "alice", "password": f"wrong {i}"}
            ).status_code
            for i in range(50)
        ]
        assert statuses[:FREE_FAILURES] == [401] * FREE_FAILURES
        assert set(statuses[FREE_FAILURES:]) == {429}  # refused without even checking
        context = browser.new_context()
        page = context.new_page()
        login(page, base)  # the right password, at once: still refused
        expect(page.locator(".error")).to_contain_text("Too many failed logins")
        assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
        ((alerts,),) = sql(
            hostile, "SELECT count(*) FROM alerts WHERE kind = 'dashboard_login_lockout'"
        )
        assert alerts == alerts_before + 1
        clock.now += BACKOFF_BASE_S + 0.1  # the first backoff step has passed
        login(page, base)
        open_cockpit(page, base)
        expect(page.get_by_role("button", name="PAUSE", exact=True)).to_be_enabled()
        context.close()
