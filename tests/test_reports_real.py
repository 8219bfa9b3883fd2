"""Issue 9: the canary verification report over ONE real recorded sandbox session
(tests/real_session.py: LIVE(sandbox) canary with PAPER and DRY_RUN copies, ≥ 3 settled windows
per mode) passes all 10 items plus item 11; a fault planted in a copy of that database (a fill
whose position is gone, a settlement the venue resolved the other way) fails the right item and
`updown report canary` exits non-zero naming it."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime

import psycopg
import pytest
from real_session import GROUP, real_session, session_copy  # noqa: F401 - fixtures
from typer.testing import CliRunner

from live.reports import canary_checks
from updown.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(GROUP)]
ITEMS = set(range(1, 12))


def since_pause(session) -> str:
    """`--settle-grace-s` that makes the report judge the windows closed by the session's pause:
    windows signalled later hold only the entries the pause denied (tests/real_session.py), and
    on the venue profile the recording goes on for a while after it, until every redemption
    has paid."""
    return f"{(datetime.now(UTC) - session.paused).total_seconds():.3f}"


def canary(url: str, tmp_path, session, *args: str):
    env = {**os.environ, "UPDOWN_DATABASE_URL": url}
    grace = ["--settle-grace-s", since_pause(session)]
    result = CliRunner().invoke(
        app, ["report", "canary", *args, *grace, "--out-dir", str(tmp_path)], env=env
    )
    verdicts = sorted(tmp_path.glob("canary_verification_*.json"))
    return result, json.loads(verdicts[-1].read_text()) if verdicts else None


def test_canary_report_over_the_real_live_run_passes_every_item(real_session, tmp_path):  # noqa: F811
    live = real_session.runs["LIVE"]
    result, verdict = canary(
        real_session.url,
        tmp_path,
        real_session,
        "--windows",
        "3",
        "--mode",
        "LIVE",
        "--run-id",
        live,
    )
    assert result.exit_code == 0, result.output
    assert "canary verification PASSED" in result.output
    assert len(verdict["windows"]) >= 3, verdict  # 3 periods × 2 assets, less FAK kills
    for slug, row in verdict["matrix"].items():
        assert {int(k) for k in row} == ITEMS and set(row.values()) == {"PASS"}, (slug, row)
    for slug, why in verdict["skipped"]:  # only a venue-killed FAK may leave a window untraded
        assert re.search("(rejected|cancelled) by the venue", why), (slug, why)
    assert (tmp_path / f"{sorted(tmp_path.glob('*.json'))[-1].stem}.html").exists()


@pytest.mark.parametrize("mode", ["PAPER", "DRY_RUN"])
def test_canary_checklist_holds_for_the_simulated_copies(real_session, mode):  # noqa: F811
    with psycopg.connect(real_session.url) as conn:
        report = canary_checks.verify(
            conn,
            windows=3,
            mode=mode,
            run_id=real_session.runs[mode],
            settle_grace_s=float(since_pause(real_session)),
        )
    assert report.passed, [(r.window_slug, r.item, r.reason) for r in report.failures()]
    assert len(report.windows) == 6 and not report.skipped  # 3 periods × BTC, ETH


def _one(conn, sql: str, *args):
    row = conn.execute(sql, args).fetchone()
    assert row is not None, sql
    return row


def test_a_fill_without_its_position_fails_item_4_and_the_command_exits_1(
    real_session,  # noqa: F811
    session_copy,  # noqa: F811
    tmp_path,
):
    live = real_session.runs["LIVE"]
    with psycopg.connect(session_copy) as conn:
        slug, pid = _one(
            conn,
            "SELECT window_slug, position_id FROM positions WHERE run_id = %s AND state = "
            "'CLOSED' ORDER BY closed_ts DESC LIMIT 1",
            live,
        )
        conn.execute("DELETE FROM position_events WHERE position_id = %s", (pid,))
        conn.execute("DELETE FROM redemptions WHERE position_id = %s", (pid,))  # its receivable
        conn.execute("DELETE FROM positions WHERE position_id = %s", (pid,))
    result, verdict = canary(
        session_copy, tmp_path, real_session, "--windows", "3", "--mode", "LIVE", "--run-id", live
    )
    assert result.exit_code == 1, result.output
    assert verdict["matrix"][slug]["4"] == "FAIL"
    assert re.search(rf"FAIL {slug} item 4: fill\(s\) .* have no position", result.output)


def test_a_settlement_the_venue_resolved_differently_fails_item_9(
    real_session,  # noqa: F811
    session_copy,  # noqa: F811
    tmp_path,
):
    live = real_session.runs["LIVE"]
    with psycopg.connect(session_copy) as conn:
        slug, venue = _one(
            conn,
            "SELECT s.window_slug, s.venue FROM settlements s JOIN positions p ON "
            "p.window_slug = s.window_slug AND p.run_id = s.run_id WHERE s.run_id = %s "
            "ORDER BY s.ts DESC LIMIT 1",
            live,
        )
        flipped = "DOWN" if venue == "UP" else "UP"
        conn.execute(
            "UPDATE settlements SET venue = %s WHERE run_id = %s AND window_slug = %s",
            (flipped, live, slug),
        )
    result, verdict = canary(
        session_copy, tmp_path, real_session, "--windows", "3", "--mode", "LIVE", "--run-id", live
    )
    assert result.exit_code == 1, result.output
    failed = {(s, int(i)) for s, i, _ in verdict["failures"]}
    assert (slug, 9) in failed and {i for s, i in failed if s == slug} == {9}, failed
    assert f"FAIL {slug} item 9: ours {venue} vs venue {flipped}" in result.output
