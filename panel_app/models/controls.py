"""Control desk model: kill-switch buttons and the runtime-controls editor, per browser session.

Every action needs an authenticated user, is validated with the CLI's rules
(`live.kernel.controls.validate`), waits for an explicit confirmation naming its effect, and is
written through `live.store.controls.write` with `by=dashboard:<user>` so control_changes audits it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import param

from live.kernel.controls import InvalidControl, validate

Writer = Callable[[str, str, str], "str | None"]


@dataclass(frozen=True, slots=True)
class Action:
    key: str
    value: str
    effect: str


ACTIONS: dict[str, Action] = {
    "pause": Action(
        "kill_switch",
        "pause",
        "PAUSE: no new entries; open positions stay monitored and stop-losses keep working.",
    ),
    "flatten": Action(
        "kill_switch", "flatten", "FLATTEN: close every open position at market, then pause."
    ),
    "emergency": Action(
        "kill_switch",
        "emergency",
        "EMERGENCY: cancel every pending order AND close every position, then pause.",
    ),
    "resume": Action("kill_switch", "off", "RESUME: kill_switch=off, new entries allowed again."),
}
NO_PASSWORD = (
    "Controls disabled: no dashboard operators are configured on the server "
    "(updown operator add NAME)."
)
NOT_LOGGED_IN = "Controls need an authenticated user: log in at /login (viewing stays open)."
SESSION_ENDED = "Your login session ended (logged out or idle): log in again at /login."


class NotAuthorized(PermissionError):
    """A control action was attempted without an authenticated user."""


def audit_name(user: str) -> str:
    return f"dashboard:{user}"


class ControlDesk(param.Parameterized):
    """One session's control state: who is acting, what awaits confirmation, what happened."""

    user = param.String(default=None, allow_None=True, doc="Authenticated user, None if not")
    auth_configured = param.Boolean(default=False)
    pending = param.Parameter(default=None, doc="The Action awaiting confirmation")
    message = param.String(default="")
    message_kind = param.Selector(default="info", objects=["info", "success", "danger"])
    csrf = param.String(default="", doc="The login session's CSRF token (the logout form)")

    def __init__(
        self, writer: Writer, alive: Callable[[], str | None] | None = None, **params
    ) -> None:
        """`alive()` names the user while the login session lasts (None once it was revoked
        or went idle); every action asks it again, so logout takes effect on open pages."""
        super().__init__(**params)
        self._writer = writer
        self._alive = alive

    @property
    def can_control(self) -> bool:
        return self.auth_configured and bool(self.user)

    @property
    def disabled_reason(self) -> str:
        if not self.auth_configured:
            return NO_PASSWORD
        return "" if self.user else NOT_LOGGED_IN

    def _require_user(self) -> str:
        if self.can_control and self._alive is not None and self._alive() != self.user:
            self.param.update(
                user=None, pending=None, message=f"Refused: {SESSION_ENDED}", message_kind="danger"
            )
            raise NotAuthorized(SESSION_ENDED)
        if not self.can_control:
            self.param.update(
                pending=None, message=f"Refused: {self.disabled_reason}", message_kind="danger"
            )
            raise NotAuthorized(self.disabled_reason)
        return self.user

    def request(self, action: str) -> Action:
        """Stage a kill-switch action; nothing is written until `confirm()`."""
        self._require_user()
        staged = ACTIONS[action]
        self.param.update(pending=staged, message=f"Confirm {staged.effect}", message_kind="info")
        return staged

    def request_set(self, key: str, value: str) -> Action | None:
        """Stage an editor change; an invalid value is rejected now with the CLI's message."""
        self._require_user()
        value = value.strip()
        try:
            validate(key, value)
        except InvalidControl as exc:
            self.param.update(pending=None, message=str(exc), message_kind="danger")
            return None
        staged = Action(key, value, f"set {key}={value}")
        self.param.update(pending=staged, message=f"Confirm: {staged.effect}", message_kind="info")
        return staged

    def confirm(self) -> str | None:
        """Write the staged action (re-checking the user) and return the previous value."""
        user = self._require_user()
        staged = self.pending
        if staged is None:
            self.param.update(message="Nothing to confirm.", message_kind="info")
            return None
        try:
            old = self._writer(staged.key, staged.value, audit_name(user))
        except InvalidControl as exc:
            self.param.update(pending=None, message=str(exc), message_kind="danger")
            return None
        self.param.update(
            pending=None,
            message_kind="success",
            message=f"{staged.key}: {old} -> {staged.value} (by {user})",
        )
        return old

    def cancel(self) -> None:
        self.param.update(pending=None, message="Cancelled; nothing changed.", message_kind="info")
