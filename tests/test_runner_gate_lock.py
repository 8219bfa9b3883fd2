"""Issue 7 runner side and issue 5's sole trader, on one run against the sandbox:
LIVE without a promotion is denied NOT_PROMOTED; a second runner on the same database is an
observer that never orders; killing the trader's lock connection makes it stop ordering at once
(even after the strategy is then promoted)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from runner_kit import (
    health,
    live_controls,
    make_runner,
    promote,
    rows,
    runner_config,
    running,
    start_sandbox,
    until,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-gate-lock")]


def decisions(db_url: str, run_id: str) -> list[tuple]:
    return rows(
        db_url,
        "SELECT verdict, code, ts FROM decisions WHERE run_id = %s ORDER BY ts, id",
        run_id,
    )


def test_not_promoted_then_one_trader_then_lock_loss(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        first = make_runner(db_url, runner_config(server.base_url))
        # takeover_s=0: the second stays an observer for good (issue 5's rule); taking over a
        # lost lock is issue 15's, drilled in test_runner_restart.py
        second = make_runner(db_url, runner_config(server.base_url, takeover_s=0))
        asyncio.run(_drive(db_url, first, second))
    finally:
        server.stop()


async def _drive(db_url: str, first, second) -> None:
    async with running(first), running(second):
        one, two = await health(first), await health(second)
        assert (one["lock"]["role"], two["lock"]["role"]) == ("trader", "observer")
        assert one["strategies"] == {"always-trade-canary": "not_promoted"}
        roles = dict(rows(db_url, "SELECT instance_id, role FROM instances"))
        assert roles[first.config.instance_id] == "trader"
        assert roles[second.config.instance_id] == "observer"

        run_id = first.primary.engine.run_id
        denied = await until(
            lambda: [d for d in decisions(db_url, run_id) if d[0] == "DENIED"],
            timeout=35,
            what="a LIVE canary decision",
        )
        assert {code for _, code, _ in denied} == {"NOT_PROMOTED"}
        assert first.gateway.sent == 0 and second.gateway.sent == 0

        # The trader loses its lock connection: it stops ordering at once, for good.
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first.lock.backend_pid(),))
        await until(lambda: not first.is_trader, timeout=3, what="lock loss seen")
        status = await health(first)
        assert status["lock"]["role"] == "observer" and status["breaker"]["tripped"]
        promote(db_url, "always-trade-canary", "canary")
        seen = len(decisions(db_url, run_id))
        later = await until(
            lambda: decisions(db_url, run_id)[seen:], timeout=35, what="a decision after loss"
        )
        assert all(verdict == "DENIED" for verdict, _, _ in later), later
        assert first.gateway.sent == 0 and second.gateway.sent == 0
        assert rows(db_url, "SELECT count(*) FROM orders WHERE mode = 'LIVE'")[0][0] == 0
        assert (await health(second))["breaker"]["tripped"]  # the observer never enters
        assert "lock_lost" in first.alerter.kinds()
