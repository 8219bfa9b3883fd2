"""Kill-switch buttons, the confirmation strip and the runtime-controls editor (thin views)."""

from __future__ import annotations

import contextlib

import panel as pn
from panel.viewable import Viewer

from live.kernel.controls import DEFAULTS
from panel_app.models.controls import ACTIONS, ControlDesk, NotAuthorized
from panel_app.views.common import set_html
from panel_app.views.html import Html, fmt

BUTTON_TYPES = {"pause": "warning", "flatten": "danger", "emergency": "danger", "resume": "success"}


class ConfirmStrip(Viewer):
    """Shows the staged action's effect with Confirm / Cancel, and the last outcome."""

    def __init__(self, desk: ControlDesk, **params) -> None:
        super().__init__(**params)
        self.desk = desk
        # A plain HTML pane with the message escaped (an Alert would render it as Markdown).
        self._alert = pn.pane.HTML(
            "", visible=False, margin=(5, 5), css_classes=["ud-control-message"]
        )
        self._confirm = pn.widgets.Button(name="Confirm", button_type="danger", width=110)
        self._cancel = pn.widgets.Button(name="Cancel", width=90)
        self._confirm.on_click(lambda _e: self._guard(desk.confirm))
        self._cancel.on_click(lambda _e: desk.cancel())
        self._buttons = pn.Row(self._confirm, self._cancel, visible=False)
        desk.param.watch(self._show, ["pending", "message", "message_kind"])

    def _guard(self, action) -> None:
        with contextlib.suppress(NotAuthorized):  # the desk already recorded the refusal
            action()

    def _show(self, *_events) -> None:
        kind = {"success": "success", "danger": "danger", "info": "info"}.get(
            self.desk.message_kind, "warning"
        )
        set_html(
            self._alert, fmt('<div class="ud-alert ud-alert-{}">{}</div>', kind, self.desk.message)
        )
        self._alert.visible = bool(self.desk.message)
        self._buttons.visible = self.desk.pending is not None

    def __panel__(self):
        return pn.Column(self._alert, self._buttons, sizing_mode="stretch_width")


class KillSwitchButtons(Viewer):
    """PAUSE / FLATTEN / EMERGENCY / RESUME; disabled, with the reason, without a user."""

    def __init__(self, desk: ControlDesk, strip: ConfirmStrip, **params) -> None:
        super().__init__(**params)
        self.desk, self.strip = desk, strip
        reason = desk.disabled_reason
        self._buttons = []
        for action, spec in ACTIONS.items():
            button = pn.widgets.Button(
                name=action.upper(),
                button_type=BUTTON_TYPES[action],
                width=110,
                disabled=not desk.can_control,
                description=reason or spec.effect,
            )
            button.on_click(lambda _e, a=action: strip._guard(lambda: desk.request(a)))
            self._buttons.append(button)
        if desk.can_control:
            who = fmt(
                "acting as <b>{}</b> · <form method='post' action='/logout' class='ud-logout'"
                " style='display:inline'><input type='hidden' name='csrf' value='{}'>"
                "<button type='submit'>log out</button></form>",
                desk.user,
                desk.csrf,
            )
        else:
            who = fmt("<span class='ud-controls-disabled'>{}</span>", reason)
            if desk.auth_configured and not desk.user:
                who = fmt("{} <a href='/login'>log in</a>", who)
        self._who = pn.pane.HTML(Html(who), margin=(5, 10))

    def __panel__(self):
        return pn.Column(pn.Row(*self._buttons), self._who)


class ControlsEditor(Viewer):
    """Edit one runtime control; validated with the CLI's rules; needs confirmation."""

    def __init__(self, desk: ControlDesk, strip: ConfirmStrip, **params) -> None:
        super().__init__(**params)
        self.desk, self.strip = desk, strip
        self._key = pn.widgets.Select(name="Control", options=list(DEFAULTS), width=200)
        self._value = pn.widgets.TextInput(
            name="New value", width=220, disabled=not desk.can_control
        )
        self._apply = pn.widgets.Button(
            name="Apply…",
            button_type="primary",
            width=110,
            disabled=not desk.can_control,
            description=desk.disabled_reason or "stage the change",
        )
        self._apply.on_click(
            lambda _e: strip._guard(lambda: desk.request_set(self._key.value, self._value.value))
        )

    def __panel__(self):
        return pn.Column(pn.Row(self._key, self._value, self._apply, align="end"), self.strip)
