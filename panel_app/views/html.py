"""The one way the views build HTML: every value is escaped unless it is already `Html`.

Data shown on the cockpit comes from the database and from the runner's health endpoint, and
both can carry text a third party chose (an imported journal's oracle `source`, a process that
binds a stopped runner's health port). So no view formats HTML with an f-string: they call
`fmt(template, *values)`, which escapes each value (quotes included, so a value cannot leave an
attribute), and `token(value)` for a value used inside a CSS class name. `set_html` accepts only
`Html`, and tests/test_dashboard_security.py fails on any f-string with markup in panel_app/views.
"""

from __future__ import annotations

import html
import re

_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


class Html(str):
    """Markup built by this module (trusted); any other str is text and gets escaped."""

    __slots__ = ()


def esc(value) -> Html:
    """`value` as HTML text: escaped (None is empty); `Html` passes unchanged."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def fmt(template: str, *args, **kwargs) -> Html:
    """`template.format(...)` with every argument escaped (`Html` arguments pass unchanged).
    The template is a literal written in the code, never data."""
    return Html(template.format(*(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()}))


def join(parts, sep: str = "") -> Html:
    """Concatenate fragments; plain strings among them are escaped."""
    return Html(esc(sep).join(esc(p) for p in parts))


def token(value) -> str:
    """`value` reduced to a safe CSS class-name fragment (anything else becomes '_')."""
    return _NOT_TOKEN.sub("_", "" if value is None else str(value))
