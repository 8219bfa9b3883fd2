"""Panel's BasicAuthProvider with our password check (constant time, named users only)."""

from __future__ import annotations

from panel.auth import BasicAuthProvider, BasicLoginHandler

from panel_app.auth import AuthConfig


def provider(auth: AuthConfig) -> BasicAuthProvider:
    """A login provider whose /login accepts any plain user name with the dashboard password
    and sets Panel's signed `user` cookie; guests (no cookie) may still view."""

    class LoginHandler(BasicLoginHandler):
        def _validate(self, username: str, password: str) -> bool:
            return auth.check(username, password)

        def get_argument(self, name, *args, **kwargs):  # noqa: D102
            # tornado strips arguments by default: "secret " would pass for "secret"
            if name == "password":
                kwargs["strip"] = False
            return super().get_argument(name, *args, **kwargs)

    class Provider(BasicAuthProvider):
        @property
        def login_handler(self):
            LoginHandler._login_endpoint = self._login_endpoint
            LoginHandler._login_template = self._login_template
            return LoginHandler

    return Provider()
