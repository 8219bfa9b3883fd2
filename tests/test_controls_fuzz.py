"""No traceback for any control value: every key and value (real ones, their near misses, and any
text) either passes `validate` and is then accepted by the database's own check (so a value the
rules allow is never refused by PostgreSQL with a traceback), or is refused with InvalidControl
naming the key and the value. `updown control set KEY VALUE [--by NAME]` (its fast path, as the
operator types it) prints one line and exits 0, 1 or 2, and a refused value writes nothing.
Budgets: tests/fuzz_kit.py."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import psycopg
import pytest
from fuzz_kit import fuzz, tally
from hypothesis import example, given
from hypothesis import strategies as st

from live.kernel.controls import DEFAULTS, InvalidControl, validate
from live.store import controls
from updown import fast_paths

REAL = ["off", "pause", "flatten", "emergency", "LIVE", "PAPER", "DRY_RUN", "5", "0.5", "20",
        "*", "BTC", "BTC,ETH", "canary", "canary,momo", "always-lose"]  # fmt: skip
NEAR = st.sampled_from(REAL).flatmap(
    lambda v: st.sampled_from([v + "\n", " " + v, v.upper(), v.lower(), v + ",", "," + v,
                               v + "\x00", v + ".0", "0" + v, v * 2, v[:-1], v + ", x"])
)  # fmt: skip
ODD = st.sampled_from(["1e3", "NaN", "-1", "10.", ".5", "5.000000001", "٣"])
VALUE = st.one_of(st.sampled_from(REAL), NEAR, st.text(max_size=16), ODD)
KEY = st.one_of(st.sampled_from(list(DEFAULTS)), st.text(max_size=12),
                st.sampled_from(list(DEFAULTS)).map(str.upper))  # fmt: skip
BY = st.one_of(st.none(), st.sampled_from(["ops", "dashboard:ann", "a\x00", "\udcff"]),
               st.text(max_size=12))  # fmt: skip


@pytest.fixture(scope="module")
def control_db(pg_admin_url, template_db):
    """One migrated database for the module (controls are plain rows: examples may share it)."""
    import uuid

    from live.store import db

    name = f"updown_f_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield db.with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _snapshot(url: str) -> tuple[dict, int]:
    with psycopg.connect(url) as conn:
        values = controls.read_raw(conn)
        audited = conn.execute("SELECT count(*) FROM control_changes").fetchone()[0]
    return values, audited


@fuzz(sample=150, campaign=10_000)
@given(key=KEY, value=VALUE)
@example("max_position_usd", "1\n")  # crashed: passed validate, refused by the database's check
@example("allowed_strategies", "canary\n")
def test_a_value_is_valid_and_stored_or_refused_naming_key_and_value(control_db, key, value):
    tally("control values")
    try:
        validate(key, value)
    except InvalidControl as exc:
        assert repr(key) in str(exc) or f"{key}={value!r}" in str(exc)
        return
    with psycopg.connect(control_db) as conn:
        controls.write(conn, key, value, "fuzz")  # the database's check agrees with validate
        assert controls.read_raw(conn)[key] == value


@fuzz(sample=40, campaign=3_000)
@given(key=KEY, value=VALUE, by=BY)
@example("kill_switch", "pause", "a\x00")  # crashed: the audit name cannot hold a NUL
@example("kill_switch", "pause", "\udcff")  # a --by argument that is not UTF-8
def test_control_set_from_the_command_line(control_db, monkeypatch, key, value, by):
    tally("updown control set (fast path)")
    monkeypatch.setenv("UPDOWN_DATABASE_URL", control_db)
    argv = ["control", "set", key, value, *([] if by is None else ["--by", by])]
    call = fast_paths.match(argv)
    if call is None:  # a word starting with '-': typer reads it (tests/test_cli_fuzz.py)
        return
    before = _snapshot(control_db)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = call()
    assert code in (0, 1, 2), code
    assert "Traceback" not in out.getvalue() + err.getvalue()
    if code != 0:
        assert err.getvalue().startswith("error: ") and err.getvalue().count("\n") == 1
        assert _snapshot(control_db) == before  # refused: nothing written, nothing audited
    else:
        assert _snapshot(control_db)[0][key] == value
