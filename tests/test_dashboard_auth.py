"""The cockpit's access pieces without a browser: password hashes, the operators file and
`updown operator`, sessions (revocation, idle expiry), the login throttle, the exact JSON
content type, and the rule that views build HTML only through panel_app.views.html."""

from __future__ import annotations

import ast
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from panel_app.auth import (
    BACKOFF_BASE_S,
    FREE_FAILURES,
    AuthConfig,
    OperatorsError,
    SessionStore,
    Throttle,
    _exact_json,
    hash_password,
    load_operators,
    verify_password,
)
from panel_app.views.common import chip, set_html
from panel_app.views.html import Html, esc, fmt, token
from updown.cli import app

VIEWS = Path(__file__).resolve().parents[1] / "panel_app" / "views"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_password_hash_is_salted_scrypt_and_verifies_only_the_password():
    one, two = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert one != two and one.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", one)
    assert not verify_password("correct horse batterY", one)
    assert not verify_password("x", "scrypt$bad")
    assert not verify_password("x", "md5$1$2$3$4$5")


def test_named_operators_each_with_their_own_password():
    auth = AuthConfig.with_passwords({"alice": "alice's long secret", "bob": "bob's long secret"})
    assert auth.check("alice", "alice's long secret")
    assert not auth.check("alice", "bob's long secret")  # no shared password
    assert not auth.check("mallory", "alice's long secret")
    assert not auth.check("guest", "alice's long secret")
    assert not auth.check("alice\n", "alice's long secret")
    assert not AuthConfig().enabled and not AuthConfig().check("alice", "")


def test_retired_shared_password_is_not_used(monkeypatch, tmp_path):
    monkeypatch.setenv("UPDOWN_DASHBOARD_PASSWORD", "old shared")
    monkeypatch.setenv("UPDOWN_DASHBOARD_OPERATORS", str(tmp_path / "none"))
    auth = AuthConfig.from_env()
    assert not auth.enabled and "no longer used" in auth.notes[0]
    assert not auth.check("anyone", "old shared")


def test_sessions_are_revocable_and_expire_when_idle():
    clock = Clock()
    store = SessionStore(idle_s=60, clock=clock)
    a, b = store.create("alice"), store.create("alice")
    assert a.sid != b.sid and a.csrf != b.csrf
    clock.now = 59
    assert store.get(a.sid).user == "alice"  # use renews it
    clock.now = 118
    assert store.get(a.sid) is not None
    assert store.get(b.sid) is None  # idle 118 s
    assert store.revoke(a.sid) and store.get(a.sid) is None
    assert store.get(None) is None and store.get("forged") is None


def test_throttle_backs_off_per_client_and_alerts_once():
    clock, alerts = Clock(), []
    throttle = Throttle(clock, lambda client, n, wait: alerts.append((client, n, wait)))
    for _ in range(FREE_FAILURES - 1):
        throttle.failure("10.0.0.1")
        assert throttle.wait_s("10.0.0.1") == 0
    throttle.failure("10.0.0.1")
    assert throttle.wait_s("10.0.0.1") == BACKOFF_BASE_S
    assert throttle.wait_s("10.0.0.2") == 0  # per client
    clock.now += BACKOFF_BASE_S
    throttle.failure("10.0.0.1")
    assert throttle.wait_s("10.0.0.1") == 2 * BACKOFF_BASE_S  # doubling
    assert alerts == [("10.0.0.1", FREE_FAILURES, BACKOFF_BASE_S)]
    throttle.success("10.0.0.1")
    assert throttle.wait_s("10.0.0.1") == 0


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("Application/JSON; charset=UTF-8", True),
        ("text/plain; charset=application/json", False),
        ("application/json-patch+json", False),
        ("application/json; boundary=x", False),
        ("application/x-www-form-urlencoded; a=application/json", False),
        ("", False),
    ],
)
def test_control_api_takes_exactly_json(content_type, ok):
    assert _exact_json(content_type) is ok


def test_hosts_are_localhost_plus_the_configured_names():
    auth = AuthConfig(allowed_hosts=("cockpit.example.org",))
    assert all(auth.host_allowed(h) for h in ("127.0.0.1", "localhost", "[::1]"))
    assert auth.host_allowed("Cockpit.Example.org")
    assert not auth.host_allowed("rebind.example") and not auth.host_allowed("")


def test_html_helper_escapes_values_attributes_and_class_names():
    hostile = "\"'><img src=x onerror=alert(1)>"
    out = fmt('<span class="{}" title="{}">{}</span>', token(hostile), hostile, hostile)
    assert "<img" not in out and 'onerror=alert(1)">' not in out
    assert out.count('"') == 4  # only the template's own quotes
    assert fmt("<b>{}</b>", Html("<i>kept</i>")) == "<b><i>kept</i></b>"
    assert esc(None) == "" and isinstance(esc(1), Html)
    assert "<img" not in chip(hostile, hostile, hostile, f"ud-feed ud-feed-{hostile}")


def test_set_html_refuses_a_plain_string():
    import panel as pn

    with pytest.raises(TypeError):
        set_html(pn.pane.HTML(""), "<b>unchecked</b>")


def test_views_build_no_markup_with_f_strings_or_concatenation():
    """Markup comes from panel_app.views.html (fmt/join/Html), never an f-string with '<'."""
    offenders = []
    for path in VIEWS.glob("*.py"):
        if path.name == "html.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr) and any(
                isinstance(v, ast.Constant) and "<" in str(v.value) for v in node.values
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_operator_cli_adds_lists_and_removes_named_operators(tmp_path):
    runner = CliRunner()
    file = tmp_path / "conf" / "operators"
    added = runner.invoke(
        app,
        ["operator", "add", "alice", "--file", str(file), "--password-stdin"],
        input="alice's long secret\n",
    )
    assert added.exit_code == 0, added.output
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    text = file.read_text()
    assert "alice:scrypt$" in text and "alice's long secret" not in text
    assert verify_password("alice's long secret", load_operators(file)["alice"])
    listed = runner.invoke(app, ["operator", "list", "--file", str(file)])
    assert listed.exit_code == 0 and listed.output.splitlines()[1:] == ["alice"]
    assert "scrypt" not in listed.output
    short = runner.invoke(
        app, ["operator", "add", "bob", "--file", str(file), "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2 and "at least 12" in short.output
    bad = runner.invoke(
        app, ["operator", "add", "a b", "--file", str(file), "--password-stdin"], input="x" * 20
    )
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
    removed = runner.invoke(app, ["operator", "remove", "alice", "--file", str(file)])
    assert removed.exit_code == 0 and load_operators(file) == {}
    missing = runner.invoke(app, ["operator", "remove", "alice", "--file", str(file)])
    assert missing.exit_code == 2


def test_malformed_operators_file_names_file_and_line(tmp_path):
    file = tmp_path / "operators"
    file.write_text("# comment\nalice:plaintext\n")
    with pytest.raises(OperatorsError, match=r"operators:2"):
        load_operators(file)
    result = CliRunner().invoke(app, ["operator", "list", "--file", str(file)])
    assert result.exit_code == 2 and "operators:2" in result.output
