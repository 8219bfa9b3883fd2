"""Who may act: Panel's basic-auth login with guests allowed, plus the control API's checks.

Viewing is open (guests). `/login` (Panel's BasicAuthProvider, enabled only when
`UPDOWN_DASHBOARD_PASSWORD` is set) takes any user name plus the shared password and sets a
signed `user` cookie (tornado secure cookie, `UPDOWN_DASHBOARD_COOKIE_SECRET` or a random
per-process secret). Sessions and the HTTP control API read that signed cookie; a guest or
unsigned cookie is no user. The API also accepts HTTP Basic credentials for scripts.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field

import tornado.web
from tornado.web import decode_signed_value

from live.kernel.controls import InvalidControl, validate
from live.store import db
from panel_app import queries
from panel_app.models.controls import audit_name

ENV_PASSWORD = "UPDOWN_DASHBOARD_PASSWORD"
ENV_COOKIE_SECRET = "UPDOWN_DASHBOARD_COOKIE_SECRET"
USER_COOKIE = "user"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
COOKIE_MAX_AGE_DAYS = 1


@dataclass(frozen=True)
class AuthConfig:
    """Password (None: controls disabled) and the cookie-signing secret."""

    password: str | None = None
    cookie_secret: str = field(default_factory=lambda: secrets.token_hex(32))

    @classmethod
    def from_env(cls) -> AuthConfig:
        password = os.environ.get(ENV_PASSWORD) or None
        secret = os.environ.get(ENV_COOKIE_SECRET) or secrets.token_hex(32)
        return cls(password=password, cookie_secret=secret)

    @property
    def enabled(self) -> bool:
        return self.password is not None

    def check(self, user: str, password: str) -> bool:
        """Constant-time password check; the user name must be a plain identifier."""
        if not self.enabled or not USER_NAME.match(user or "") or user == "guest":
            return False
        return hmac.compare_digest(password.encode(), self.password.encode())

    def user_from_cookie(self, signed: str | bytes | None) -> str | None:
        """The user a signed `user` cookie names, or None (missing, forged, expired, guest)."""
        if not self.enabled or not signed:
            return None
        raw = decode_signed_value(
            self.cookie_secret, USER_COOKIE, signed, max_age_days=COOKIE_MAX_AGE_DAYS
        )
        user = raw.decode() if raw else None
        return user if user and user != "guest" and USER_NAME.match(user) else None

    def user_from_basic(self, header: str | None) -> str | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if self.check(user, password) else None


class ControlApiHandler(tornado.web.RequestHandler):
    """POST /api/controls {"key": ..., "value": ...}: the kill switch / controls over HTTP.

    401 without a user, 400 for an invalid value (the CLI's message), 200 with old/new values.
    Requires a JSON body, so a cross-site form cannot ride the cookie.
    """

    def initialize(self, url: str, auth: AuthConfig) -> None:
        self.url, self.auth = url, auth

    def _reply(self, status: int, body: dict) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def post(self) -> None:
        if not self.auth.enabled:
            return self._reply(403, {"error": "controls disabled: no dashboard password set"})
        user = self.auth.user_from_cookie(
            self.get_cookie(USER_COOKIE)
        ) or self.auth.user_from_basic(self.request.headers.get("Authorization"))
        if user is None:
            return self._reply(401, {"error": "authentication required"})
        if "application/json" not in self.request.headers.get("Content-Type", ""):
            return self._reply(415, {"error": "send application/json"})
        try:
            body = json.loads(self.request.body or b"{}")
            key, value = str(body["key"]), str(body["value"])
            validate(key, value)
        except (ValueError, KeyError, TypeError) as exc:
            message = str(exc) if isinstance(exc, InvalidControl) else "body must be {key, value}"
            return self._reply(400, {"error": message})
        with db.connect(self.url) as conn:
            old = queries.write_control(conn, key, value, audit_name(user))
        return self._reply(200, {"key": key, "old": old, "new": value, "by": audit_name(user)})
