"""Who may act on the cockpit: named operators, server-side sessions, login throttling, and the
checks every state-changing request passes (docs/security.md).

- **Operators** are named, each with their own scrypt password hash, in an operators file
  (`UPDOWN_DASHBOARD_OPERATORS`, default `~/.config/updown/operators`; `updown operator add NAME`
  writes it). No operators: the controls are disabled and viewing stays open.
- **Sessions** live in this process: `/login` sets an opaque random id (`updown_session`,
  HttpOnly, SameSite=Strict, Secure over TLS) mapped to (user, CSRF token, last use). The id
  never enters the Bokeh session token embedded in the page (`exclude_cookies`), logout revokes
  it here, and it expires after `UPDOWN_DASHBOARD_IDLE_MINUTES` (default 30) without use.
- **Throttling**: after `FREE_FAILURES` wrong passwords from one client, each further attempt
  waits a doubling backoff (up to 15 minutes), even with the right password; reaching the
  lockout records an alert (`alerts`, kind `dashboard_login_lockout`) and logs a warning.
- **Requests that change state** (`POST /api/controls`, `/login`, `/logout`) must come from an
  allowed Host, carry an Origin (or Referer) equal to the served origin when a browser sends one,
  and, with the cookie, the session's CSRF token; `/api/controls` takes exactly
  `application/json`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import tornado.web

from live.kernel.controls import InvalidControl, validate
from live.store import db
from panel_app import queries
from panel_app.models.controls import audit_name
from panel_app.views.html import fmt

log = logging.getLogger(__name__)

ENV_OPERATORS = "UPDOWN_DASHBOARD_OPERATORS"
ENV_PASSWORD = "UPDOWN_DASHBOARD_PASSWORD"  # retired: one shared password (refused, see below)
ENV_IDLE_MINUTES = "UPDOWN_DASHBOARD_IDLE_MINUTES"
ENV_ALLOWED_HOSTS = "UPDOWN_DASHBOARD_ALLOWED_HOSTS"
SESSION_COOKIE = "updown_session"
CSRF_HEADER = "X-CSRF-Token"
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
DEFAULT_IDLE_S = 30 * 60
FREE_FAILURES = 5  # wrong passwords from one client before the backoff starts
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 15 * 60.0
MAX_BODY_BYTES = 16 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
RETIRED_PASSWORD = (
    f"{ENV_PASSWORD} (one shared password) is no longer used: create named operators with "
    f"`updown operator add NAME` (file: ${ENV_OPERATORS}, default ~/.config/updown/operators)"
)

# ------------------------------------------------------------------ password hashes (scrypt)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB, ~50 ms per check


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` (base64): hashlib.scrypt, a fresh 16-byte salt."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time comparison against a `hash_password` string; False if malformed."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=128 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = hash_password(secrets.token_hex(8))  # unknown users cost a check too


class OperatorsError(ValueError):
    """The operators file is unreadable or malformed; the message names the file and line."""


def default_operators_path() -> Path:
    if os.environ.get(ENV_OPERATORS):
        return Path(os.environ[ENV_OPERATORS]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "updown" / "operators"


def valid_name(name: str) -> bool:
    return bool(USER_NAME.fullmatch(name or "")) and name != "guest"


def load_operators(path: Path) -> dict[str, str]:
    """name -> password hash from `path` (`name:hash` lines, `#` comments); {} if absent."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, encoded = line.partition(":")
        if not sep or not valid_name(name) or not encoded.startswith("scrypt$"):
            raise OperatorsError(f"{path}:{number}: expected NAME:scrypt$… (see updown operator)")
        found[name] = encoded
    return found


def save_operators(path: Path, operators: dict[str, str]) -> None:
    """Write the file (mode 0600) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    lines = ["# updown dashboard operators: NAME:scrypt hash (updown operator add NAME)"]
    lines += [f"{name}:{encoded}" for name, encoded in sorted(operators.items())]
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------ sessions and throttling
@dataclass
class Session:
    sid: str
    user: str
    csrf: str
    last_used: float


class SessionStore:
    """Server-side login sessions: revocable, expiring after `idle_s` without use."""

    def __init__(self, idle_s: float, clock: Callable[[], float]) -> None:
        self.idle_s, self.clock = idle_s, clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> Session:
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), self.clock())
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None, *, touch: bool = True) -> Session | None:
        """The live session `sid` names (and mark it used), or None: unknown, revoked, idle."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.last_used > self.idle_s:
                del self._sessions[sid]
                return None
            if touch:
                session.last_used = now
            return session

    def revoke(self, sid: str | None) -> bool:
        with self._lock:
            return self._sessions.pop(sid or "", None) is not None


class Throttle:
    """Per-client login backoff: FREE_FAILURES free failures, then a doubling wait."""

    def __init__(self, clock: Callable[[], float], on_lockout: Callable[[str, int, float], None]):
        self.clock, self.on_lockout = clock, on_lockout
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (count, blocked until)
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        with self._lock:
            _, until = self._failures.get(client, (0, 0.0))
        return max(0.0, until - self.clock())

    def failure(self, client: str) -> None:
        with self._lock:
            count, _ = self._failures.get(client, (0, 0.0))
            count += 1
            wait = 0.0
            if count >= FREE_FAILURES:
                wait = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (count - FREE_FAILURES))
            self._failures[client] = (count, self.clock() + wait)
        if count == FREE_FAILURES:
            self.on_lockout(client, count, wait)

    def success(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


# ------------------------------------------------------------------ configuration
def _idle_from_env() -> float:
    raw = os.environ.get(ENV_IDLE_MINUTES)
    if not raw:
        return DEFAULT_IDLE_S
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1
    if not 0 < minutes <= 7 * 24 * 60:
        raise OperatorsError(f"{ENV_IDLE_MINUTES}={raw!r}: minutes in (0, 10080]")
    return minutes * 60


@dataclass
class AuthConfig:
    """Operators (name -> hash; none: controls disabled), the allowed Host names beyond
    localhost, the idle timeout, and the sessions/throttle state of this server."""

    operators: dict[str, str] = field(default_factory=dict)
    allowed_hosts: tuple[str, ...] = ()
    idle_s: float = DEFAULT_IDLE_S
    clock: Callable[[], float] = time.monotonic
    database_url: str | None = None  # where a lockout alert is recorded (None: log only)
    notes: list[str] = field(default_factory=list)  # what `updown dashboard` should say
    sessions: SessionStore = field(init=False)
    throttle: Throttle = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = SessionStore(self.idle_s, self.clock)
        self.throttle = Throttle(self.clock, self._lockout)

    @classmethod
    def with_passwords(cls, passwords: dict[str, str], **kwargs) -> AuthConfig:
        """Tests and the demo: operators from plain passwords (hashed here)."""
        return cls({n: hash_password(p) for n, p in passwords.items()}, **kwargs)

    @classmethod
    def from_env(cls, database_url: str | None = None) -> AuthConfig:
        notes = []
        if os.environ.get(ENV_PASSWORD):
            notes.append(RETIRED_PASSWORD)
        hosts = tuple(
            h.strip().lower() for h in os.environ.get(ENV_ALLOWED_HOSTS, "").split(",") if h.strip()
        )
        return cls(
            load_operators(default_operators_path()),
            allowed_hosts=hosts,
            idle_s=_idle_from_env(),
            database_url=database_url,
            notes=notes,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.operators)

    def host_allowed(self, host_name: str) -> bool:
        name = (host_name or "").lower().strip("[]")
        return name in LOCAL_HOSTS or name in self.allowed_hosts

    def check(self, user: str, password: str) -> bool:
        """The named operator's password (scrypt, constant time; unknown names cost the same)."""
        if not self.enabled or not valid_name(user or ""):
            verify_password(password or "", _DUMMY_HASH)
            return False
        encoded = self.operators.get(user)
        ok = verify_password(password or "", encoded or _DUMMY_HASH)
        return ok and encoded is not None

    def user_of(self, sid: str | None) -> str | None:
        session = self.sessions.get(sid)
        return session.user if session else None

    def _lockout(self, client: str, count: int, wait: float) -> None:
        message = (
            f"[WARNING] dashboard_login_lockout\nWhere: dashboard /login from {client}\n"
            f"What happened: {count} wrong passwords in a row\n"
            f"What we did: further attempts from {client} wait {wait:.0f} s, doubling per failure"
        )
        log.warning("dashboard login lockout: %d failures from %s", count, client)
        if self.database_url is None:
            return
        try:
            with db.connect(self.database_url) as conn:
                conn.execute(
                    "INSERT INTO alerts (kind, severity, message, dedup_key, detail)"
                    " VALUES ('dashboard_login_lockout', 'warning', %s, %s, %s::jsonb)",
                    (
                        message,
                        f"dashboard_login_lockout:{client}",
                        json.dumps({"client": client, "failures": count, "wait_s": wait}),
                    ),
                )
        except Exception as exc:  # noqa: BLE001 - the lockout holds even if the alert is lost
            log.error("dashboard login lockout alert not recorded: %s", exc)


# ------------------------------------------------------------------ request checks
class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else "?"


class Guarded(tornado.web.RequestHandler):
    """Base of the dashboard's own handlers: Host check first, helpers for the rest."""

    def initialize(self, auth: AuthConfig, url: str | None = None) -> None:
        self.auth, self.url = auth, url

    def prepare(self) -> None:
        if not self.auth.host_allowed(self.request.host_name):
            self._refuse(403, f"host {self.request.host_name!r} is not allowed")

    def _refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))

    @property
    def served_origin(self) -> str:
        return f"{self.request.protocol}://{self.request.host}".lower()

    def same_origin(self, *, required: bool) -> None:
        """Refuse a request whose Origin (else Referer) is another origin; with `required`,
        refuse one that carries neither (a browser sends one on every POST)."""
        origin = _origin_of(self.request.headers.get("Origin"))
        if origin is None:
            origin = _origin_of(self.request.headers.get("Referer"))
        if origin is None:
            if required:
                raise Refused(403, "a same-origin request is required (no Origin or Referer)")
            return
        if origin != self.served_origin:
            raise Refused(403, f"cross-origin request refused (Origin {origin})")

    def session(self) -> Session | None:
        return self.auth.sessions.get(self.get_cookie(SESSION_COOKIE))

    def set_session_cookie(self, sid: str) -> None:
        self.set_cookie(
            SESSION_COOKIE,
            sid,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.request.protocol == "https",
        )


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>updown cockpit: {title}</title>
<style>body{{font:15px sans-serif;margin:40px}} input,button{{font-size:15px;margin:4px 0}}
.error{{color:#c62828}}</style></head><body><h2>updown cockpit: {title}</h2>{body}</body></html>"""


class LoginHandler(Guarded):
    """GET: the form. POST (form fields username, password): a session, or 401/429."""

    def get(self) -> None:
        self._form()

    def _form(self, error: str = "", status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if not self.auth.enabled:
            body = fmt("<p>Controls are disabled: no operators are configured.</p>")
        else:
            body = fmt(
                '<p class="error">{}</p><form method="post" action="/login">'
                '<label>user <input name="username" autocomplete="username" required></label>'
                '<br><label>password <input name="password" type="password" '
                'autocomplete="current-password" required></label><br>'
                '<button type="submit">log in</button></form><p><a href="/">view as guest</a></p>',
                error,
            )
        self.finish(fmt(PAGE, title="log in", body=body))

    def post(self) -> None:
        try:
            self.same_origin(required=False)
        except Refused as exc:
            return self._form(exc.message, exc.status)
        client = self.request.remote_ip or "?"
        wait = self.auth.throttle.wait_s(client)
        if wait > 0:
            self.set_header("Retry-After", str(int(wait) + 1))
            return self._form(f"Too many failed logins: try again in {wait:.0f} s.", 429)
        user = self.get_body_argument("username", "")
        # exactly as typed: tornado strips arguments by default, so "secret " would pass
        password = self.get_body_argument("password", "", strip=False)
        if not self.auth.check(user, password):
            self.auth.throttle.failure(client)
            return self._form("Wrong user name or password.", 401)
        self.auth.throttle.success(client)
        old = self.get_cookie(SESSION_COOKIE)
        self.auth.sessions.revoke(old)  # a fresh id at every login (no session fixation)
        self.set_session_cookie(self.auth.sessions.create(user).sid)
        self.redirect("/")


class LogoutHandler(Guarded):
    """POST with the session's CSRF token: the session is revoked here, the cookie cleared."""

    def get(self) -> None:
        session = self.session()
        self.set_header("Content-Type", "text/html; charset=utf-8")
        body = (
            fmt(
                '<form method="post" action="/logout"><input type="hidden" name="csrf" '
                'value="{}"><button type="submit">log out {}</button></form>',
                session.csrf,
                session.user,
            )
            if session
            else fmt('<p>Not logged in. <a href="/">back</a></p>')
        )
        self.finish(fmt(PAGE, title="log out", body=body))

    def post(self) -> None:
        try:
            self.same_origin(required=True)
        except Refused as exc:
            return self._refuse(exc.status, exc.message)
        session = self.session()
        if session is not None:
            token = self.get_body_argument("csrf", "") or self.request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(token.encode(), session.csrf.encode()):
                return self._refuse(403, "missing or wrong CSRF token")
            self.auth.sessions.revoke(session.sid)
        self.clear_cookie(SESSION_COOKIE, path="/")
        self.redirect("/")


class SessionApiHandler(Guarded):
    """GET /api/session: {"user", "csrf"} for the cookie's session (readable same-origin only)."""

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        session = self.session()
        if session is None:
            return self._refuse(401, "authentication required")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"user": session.user, "csrf": session.csrf}))


def _exact_json(content_type: str) -> bool:
    """`application/json`, optionally `; charset=utf-8` — nothing else."""
    mime, _, params = content_type.partition(";")
    if mime.strip().lower() != "application/json":
        return False
    params = params.strip().lower().replace(" ", "")
    return params in ("", "charset=utf-8")


class ControlApiHandler(Guarded):
    """POST /api/controls {"key": ..., "value": ...}: the kill switch / controls over HTTP.

    Same origin (Origin/Referer), exactly `application/json`, then either the session cookie
    with its CSRF token in `X-CSRF-Token`, or HTTP Basic credentials of a named operator (scripts;
    throttled like /login). 401 without a user, 403 cross-origin or without the token, 415 for
    another content type, 400 with the CLI's one-line message for a bad value, 200 with old/new.
    """

    def post(self) -> None:
        try:
            user = self._authorised_user()
            key, value = self._body()
        except Refused as exc:
            return self._refuse(exc.status, exc.message)
        with db.connect(self.url) as conn:
            old = queries.write_control(conn, key, value, audit_name(user))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"key": key, "old": old, "new": value, "by": audit_name(user)}))

    def _authorised_user(self) -> str:
        if not self.auth.enabled:
            raise Refused(403, "controls disabled: no dashboard operators configured")
        basic = self.request.headers.get("Authorization")
        if basic is not None:
            # A browser sends Origin on every POST: another origin is refused with any credential.
            self.same_origin(required=False)
            return self._basic_user(basic)
        session = self.session()
        if session is None:
            raise Refused(401, "authentication required")
        self.same_origin(required=True)
        token = self.request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(token.encode(), session.csrf.encode()):
            raise Refused(403, f"missing or wrong {CSRF_HEADER} (GET /api/session gives it)")
        return session.user

    def _basic_user(self, header: str) -> str:
        client = self.request.remote_ip or "?"
        wait = self.auth.throttle.wait_s(client)
        if wait > 0:
            self.set_header("Retry-After", str(int(wait) + 1))
            raise Refused(429, f"too many failed logins: try again in {wait:.0f} s")
        user = password = ""
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user = ""
        if not self.auth.check(user, password):
            self.auth.throttle.failure(client)
            raise Refused(401, "authentication required")
        self.auth.throttle.success(client)
        return user

    def _body(self) -> tuple[str, str]:
        if not _exact_json(self.request.headers.get("Content-Type", "")):
            raise Refused(415, "send exactly Content-Type: application/json")
        if len(self.request.body) > MAX_BODY_BYTES:
            raise Refused(413, f"body over {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, RecursionError):
            raise Refused(400, "body must be a JSON object {key, value}") from None
        if not isinstance(body, dict) or not {"key", "value"} <= body.keys():
            raise Refused(400, "body must be a JSON object {key, value}")
        key, value = body["key"], body["value"]
        if not isinstance(key, str) or not isinstance(value, str):
            raise Refused(400, "key and value must be JSON strings")
        try:
            validate(key, value)
        except InvalidControl as exc:
            raise Refused(400, str(exc)) from None
        return key, value


def routes(auth: AuthConfig, url: str) -> list[tuple]:
    """The dashboard's own HTTP routes (extra_patterns of the Panel server)."""
    kwargs = {"auth": auth, "url": url}
    return [
        (r"/login", LoginHandler, kwargs),
        (r"/logout", LogoutHandler, kwargs),
        (r"/api/session", SessionApiHandler, kwargs),
        (r"/api/controls", ControlApiHandler, kwargs),
    ]


def request_session(auth: AuthConfig, request) -> Session | None:
    """The login session of the HTTP request that opened a Bokeh session (see app.py)."""
    raw = getattr(request, "_request", request)  # bokeh's proxy keeps the tornado request here
    cookies = getattr(raw, "cookies", None)
    if cookies is None:
        return None
    morsel = cookies.get(SESSION_COOKIE)
    return auth.sessions.get(getattr(morsel, "value", morsel)) if morsel else None
