"""No 500 and no traceback from the HTTP endpoints we serve to people and scripts: the dashboard's
`/login` and control API (`POST /api/controls`) on a served cockpit, and the runner's `/health`.
Requests are generated around the real ones (the login form, `{"key": "kill_switch", "value":
"pause"}` with a session cookie, its CSRF token and the page's Origin, or Basic credentials) with
each part replaced: user names, passwords, cookies, CSRF tokens, Origins, Authorization headers,
content types, bodies, methods and paths. Every answer is 2xx/3xx/4xx; a control is changed only
by a 200 (and then exactly as asked), never by a refusal, and never without a same-origin request
from a signed-in operator; the servers still answer afterwards. The login throttle is reset
before each input (it is tested on its own in test_dashboard_security).
Budgets: tests/fuzz_kit.py."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import threading
import uuid
from urllib.parse import quote

import httpx
import psycopg
import pytest
from fuzz_kit import JSON, fuzz, mutated, tally
from hypothesis import example, given
from hypothesis import strategies as st

from live.kernel.controls import DEFAULTS
from live.runner.health import HealthServer
from live.store import controls, db
from panel_app import poller
from panel_app.app import control_writer, serve
from panel_app.auth import SESSION_COOKIE, AuthConfig
from panel_app.models.controls import ACTIONS, ControlDesk
from panel_app.testing import free_port, wait_http

pytestmark = pytest.mark.xdist_group("dashboard-fuzz")
PASSWORD = "fuzz-secret-1"
USERS = st.one_of(st.sampled_from(["alice", "ops.team", "guest", "a" * 64, "a" * 65, "", "é"]),
                  st.text(max_size=12))  # fmt: skip
PASSWORDS = st.one_of(st.just(PASSWORD), st.sampled_from(["", PASSWORD + " ", "x"]),
                      st.text(max_size=12))  # fmt: skip


@pytest.fixture(scope="module")
def cockpit(pg_admin_url, template_db):
    """A served cockpit (login and control API enabled) over a migrated database of its own."""
    name = f"updown_f_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = db.with_database(pg_admin_url, name)
    port = free_port()
    auth = AuthConfig.with_passwords({"alice": PASSWORD})
    thread = serve(url, port=port, auth=auth, threaded=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/api/session")
        with httpx.Client(base_url=base, timeout=20) as http:
            login = http.post("/login", data={"username": "alice", "password": PASSWORD})
            assert login.status_code in (200, 302), login.text
            csrf = http.get("/api/session").json()["csrf"]
            yield Cockpit(url, http, dict(http.cookies), csrf, base, auth)
    finally:
        thread.stop()
        poller.stop_all()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclasses.dataclass(frozen=True)
class Cockpit:
    url: str
    http: httpx.Client
    cookies: dict  # alice's signed-in session
    csrf: str  # that session's CSRF token
    origin: str
    auth: AuthConfig

    def unthrottled(self) -> None:
        self.auth.throttle.success("127.0.0.1")


def _controls(url: str) -> tuple[dict, int]:
    with psycopg.connect(url) as conn:
        audited = conn.execute("SELECT count(*) FROM control_changes").fetchone()[0]
        return controls.read_raw(conn), audited


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


AUTH = st.one_of(
    st.sampled_from(["cookie", "cookie-no-csrf", "cookie-wrong-csrf", "cookie-cross-origin"]),
    st.just("none"),
    st.builds(_basic, USERS, PASSWORDS),
    st.just(_basic("alice", PASSWORD)),
    st.sampled_from(["Basic", "Basic !!!", "Basic " + base64.b64encode(b"\xff:x").decode(),
                     "Bearer x"]),
    st.text(max_size=12).map(lambda t: "Basic " + t),
).filter(lambda a: a.isascii() and a.isprintable() and a == a.strip())  # fmt: skip
SEED = {"key": "kill_switch", "value": "pause"}
BODY = st.one_of(
    st.sampled_from([SEED, {"key": "max_position_usd", "value": "1"},
                     {"key": "kill_switch", "value": "off"}]).flatmap(mutated).map(json.dumps),
    JSON.map(json.dumps),
    st.text(max_size=30),
    st.sampled_from(["", "{", "null", "[]", '{"key": null, "value": null}', "\ud800"]),
)  # fmt: skip
TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                         "application/x-www-form-urlencoded", ""])  # fmt: skip


@fuzz(sample=60, campaign=5_000)
@given(auth=AUTH, content_type=TYPES, body=BODY)
@example("cookie", "application/json", json.dumps({"key": "kill_switch", "value": "pause\n"}))
@example("cookie", "application/json", "\ud800")
@example("cookie-cross-origin", "application/json", json.dumps(SEED))
@example("cookie-no-csrf", "text/plain; charset=application/json", json.dumps(SEED))
def test_control_api_changes_a_control_only_with_a_200(cockpit, auth, content_type, body):
    tally("dashboard control API")
    http = cockpit.http
    cockpit.unthrottled()
    headers = {"Content-Type": content_type} if content_type else {}
    headers["Origin"] = "http://127.0.0.1:1" if auth == "cookie-cross-origin" else cockpit.origin
    if auth == "cookie" or auth == "cookie-cross-origin":
        headers["X-CSRF-Token"] = cockpit.csrf
    elif auth == "cookie-wrong-csrf":
        headers["X-CSRF-Token"] = cockpit.csrf[::-1]
    elif auth != "cookie-no-csrf" and auth != "none":
        headers["Authorization"] = auth
    before = _controls(cockpit.url)
    http.cookies.clear()
    if auth.startswith("cookie"):
        http.cookies.update(cockpit.cookies)
    content = body.encode("utf-8", "surrogatepass")
    response = http.post("/api/controls", content=content, headers=headers)
    assert response.status_code in (200, 400, 401, 403, 413, 415, 429), (
        response.status_code,
        response.text,
    )
    answer = response.json()
    if response.status_code == 200:
        assert auth == "cookie" or auth == _basic("alice", PASSWORD), (
            auth
        )  # only alice, same origin
        values, _ = _controls(cockpit.url)
        assert values[answer["key"]] == answer["new"]
    else:
        assert answer["error"] and _controls(cockpit.url) == before


@fuzz(sample=40, campaign=3_000)
@given(
    user=USERS,
    password=PASSWORDS,
    extra=st.dictionaries(st.sampled_from(["next", "error", "username", "x"]), st.text(max_size=8)),
    raw=st.one_of(st.none(), st.binary(max_size=30)),
)
@example("alice", PASSWORD + " ", {}, None)  # was signed in: tornado stripped the password
def test_login_answers_every_form(cockpit, user, password, extra, raw):
    tally("dashboard login")
    http = cockpit.http
    cockpit.unthrottled()
    http.cookies.clear()
    if raw is None:
        response = http.post("/login", data={**extra, "username": user, "password": password})
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        response = http.post("/login", content=raw, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text[:300])
    good = raw is None and user == "alice" and password == PASSWORD
    if good:
        assert response.status_code in (301, 302, 303), response.status_code
        assert SESSION_COOKIE in response.cookies  # signed in
    else:
        assert SESSION_COOKIE not in response.cookies  # never signed in without the password
    assert http.get("/api/session").status_code in (200, 401)  # still serving


@pytest.fixture(scope="module")
def health():
    """A runner health endpoint served from its own event loop (as the runner does)."""
    loop = asyncio.new_event_loop()
    status = {"status": "ACTIVE", "mode": "PAPER"}
    server = HealthServer(lambda: status, port=free_port())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    try:
        with httpx.Client(timeout=20) as http:
            yield server, http
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@fuzz(sample=40, campaign=3_000)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
    path=st.one_of(st.just("/health"), st.text(max_size=16).map(lambda t: "/" + quote(t))),
    query=st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
    headers=st.dictionaries(st.sampled_from(["Accept", "Content-Type", "X-Anything", "Range"]),
                            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                                    max_size=12).map(str.strip), max_size=2),
    body=st.binary(max_size=30),
)  # fmt: skip
def test_health_answers_every_request(health, method, path, query, headers, body):
    tally("runner /health")
    server, http = health
    base = server.url.removesuffix("/health")
    response = http.request(method, base + path, params=query, headers=headers, content=body)
    assert response.status_code < 500, (response.status_code, response.text[:200])
    assert http.get(server.url).json()["status"] == "ACTIVE"


EDITOR_KEYS = st.one_of(st.sampled_from(sorted(DEFAULTS)), st.text(max_size=10))
EDITOR_VALUES = st.one_of(
    st.sampled_from(["pause", "off", "LIVE", "PAPER", "1", "0.5", "*", "BTC,ETH", "canary",
                     " 1 ", "1\n", "pause\x00", "NaN", "-1", "BTC, ETH"]),
    st.text(max_size=12),
)  # fmt: skip


@fuzz(sample=40, campaign=3_000)
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("set"), EDITOR_KEYS, EDITOR_VALUES),
            st.tuples(st.just("request"), st.sampled_from(sorted(ACTIONS)), st.just("")),
            st.tuples(st.sampled_from(["confirm", "cancel"]), st.just(""), st.just("")),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_control_desk_actions(cockpit, steps):
    """The cockpit's control desk (kill-switch buttons, controls editor) as a session drives it:
    any sequence of edits, requests, confirms and cancels writes exactly the confirmed values."""
    tally("dashboard control desk")
    url = cockpit.url
    desk = ControlDesk(control_writer(url), user="alice", auth_configured=True)
    for step, key, value in steps:
        if step == "set":
            staged = desk.request_set(key, value)
            assert staged is not None or desk.message_kind == "danger"
        elif step == "request":
            desk.request(key)
        elif step == "cancel":
            desk.cancel()
        else:
            staged = desk.pending
            desk.confirm()
            if staged is not None:
                assert desk.message_kind == "success", desk.message
                assert _controls(url)[0][staged.key] == staged.value
