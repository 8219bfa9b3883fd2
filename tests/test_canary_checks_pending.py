"""Issue 15: a window a runner was stopped on before its resolution is PENDING in the canary
report while its resolution is not yet due, and fails once overdue saying the runner was stopped."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
from test_canary_checks import BASE, RUN_ID, seed_canary_run, slug

from live.reports import canary_checks

CLOSE = BASE + timedelta(minutes=10)  # the last seeded period's close


def unsettle(db_url: str) -> str:
    """The runner stopped before ETH's last window resolved: no settlement, position open."""
    target = slug("ETH", 1)
    with psycopg.connect(db_url) as conn:
        seed_canary_run(conn)
        conn.execute("DELETE FROM settlements WHERE window_slug = %s", (target,))
        conn.execute(
            "UPDATE positions SET state = 'MONITORING', pnl_gross = NULL, pnl_net = NULL, "
            "closed_ts = NULL, exit_price = NULL, resolution = NULL WHERE window_slug = %s",
            (target,),
        )
        conn.execute(
            "INSERT INTO runner_stops (ts, instance_id, run_id, mode, reason, open_positions) "
            "VALUES (%s, 'i', %s, 'PAPER', 'stop requested (signal)', %s)",
            (
                CLOSE - timedelta(seconds=30),
                RUN_ID,
                json.dumps([{"position_id": f"p-{target}", "window_slug": target}]),
            ),
        )
    return target


def report_at(db_url: str, now):
    with psycopg.connect(db_url) as conn:
        return canary_checks.verify(conn, windows=1, run_id=RUN_ID, now=now)


def test_not_yet_due_is_pending_and_overdue_fails_saying_the_runner_was_stopped(db_url):
    target = unsettle(db_url)
    soon = report_at(db_url, CLOSE + timedelta(seconds=60))
    assert soon.failures() == [] and soon.passed
    pending = {r.item for r in soon.pending() if r.window_slug == target}
    assert 6 in pending and 7 in pending and pending <= canary_checks.SETTLEMENT_ITEMS
    assert soon.matrix()[target][6] == "PENDING"
    assert soon.matrix()[slug("BTC", 1)][6] == "PASS"

    late = report_at(db_url, CLOSE + timedelta(seconds=canary_checks.RESOLUTION_DUE_S + 1))
    assert not late.passed and late.pending() == []
    failed = {r.item: r.reason for r in late.failures()}
    assert set(failed) == pending
    assert "no settlement recorded" in failed[6]
    assert "runner was stopped" in failed[6] and "stop requested (signal)" in failed[6]
