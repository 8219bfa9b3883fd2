"""Issue 5, first acceptance point: the canary runs short windows in LIVE (sandbox), PAPER and
DRY_RUN — one runner, LIVE primary with PAPER and DRY_RUN copies on the same market data — and
every item of the spec's verification checklist (plus "every assertion held") is true in the
database for at least three windows of each mode."""

from __future__ import annotations

import asyncio
from datetime import datetime

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
    settle_then_pause,
    start_sandbox,
)

from live.reports import canary_checks

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-canary")]
NEEDED = 3


def test_canary_checklist_holds_in_live_paper_and_dry_run(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        promote(db_url, "always-trade-canary", "canary")
        runner = make_runner(db_url, runner_config(server.base_url, copies=("paper", "dry-run")))
        paused_at = asyncio.run(_drive(db_url, runner))
    finally:
        server.stop()
    slots = {slot.engine.mode.value: slot.engine.run_id for slot in runner.slots}
    assert set(slots) == {"LIVE", "PAPER", "DRY_RUN"}
    with psycopg.connect(db_url) as conn:
        for mode, run_id in slots.items():
            report = canary_checks.verify(conn, windows=10, mode=mode, run_id=run_id, now=paused_at)
            by_window: dict[str, list] = {}
            for result in report.results:
                by_window.setdefault(result.window_slug, []).append(result)
            passing = [w for w, results in by_window.items() if all(r.passed for r in results)]
            failing = {
                w: [f"{r.item}: {r.reason}" for r in results if not r.passed]
                for w, results in by_window.items()
                if w not in passing
            }
            if mode == "LIVE":
                # A FAK the venue kills (the book moved before it arrived) is a legitimate
                # outcome, not a record fault: it must be a recorded rejection with no position.
                # So is a FAK answered "delayed" that then found nothing to match (the venue
                # profile's delayed share, docs/venue.md O1): CANCELLED, nothing filled.
                for slug in list(failing):
                    killed = rows(
                        db_url,
                        "SELECT o.state, o.filled_shares, (SELECT count(*) FROM positions p "
                        "WHERE p.run_id = o.run_id AND p.window_slug = o.window_slug) "
                        "FROM orders o WHERE o.run_id = %s AND o.window_slug = %s",
                        run_id,
                        slug,
                    )
                    if killed and all(
                        state in ("REJECTED", "CANCELLED") and filled == 0 and n == 0
                        for state, filled, n in killed
                    ):
                        failing.pop(slug)
            assert not failing, f"{mode}: {failing}"
            assert len(passing) >= NEEDED, f"{mode}: only {passing} passed every item"


async def _drive(db_url: str, runner) -> datetime:
    """Run until each mode has settled windows; pause; return the pause time (windows closed
    by then are complete: later ones only hold signals the pause denied)."""
    async with running(runner):
        status = await health(runner)
        assert status["lock"]["role"] == "trader"
        assert status["strategies"] == {"always-trade-canary": "active"}
        paused_at = await settle_then_pause(db_url, runner, NEEDED)
        status = await health(runner)
        assert status["breaker"]["tripped"] is False, status["breaker"]
        assert all(status["assertions"].values()), status["assertions"]
    return paused_at
