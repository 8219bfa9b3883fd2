"""Issue 15, the simulated copies: a runner with PAPER and DRY_RUN copies is stopped while each
copy holds an open position; the next start adopts them into its copies (their own mode's rows:
positions, entry counts, the simulated venue's holdings and cash) and settles them — against the
sandbox and real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from runner_kit import (
    health,
    live_controls,
    promote,
    rows,
    runner_config,
    running,
    start_sandbox,
    until,
)
from test_runner_restart import make_runner

from live.runner.runner import Runner

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-restart-copies")]
COPIES = ("PAPER", "DRY_RUN")


def open_positions(db_url: str, mode: str) -> list[tuple]:
    return rows(
        db_url,
        "SELECT position_id, window_slug FROM positions "
        "WHERE mode = %s AND state <> 'CLOSED' AND shares > 0 ORDER BY opened_ts",
        mode,
    )


def settled(db_url: str, mode: str, position_id: str) -> bool:
    """CLOSED, with its window's settlement in its mode (a simulated venue pays at resolution)."""
    return bool(
        rows(
            db_url,
            "SELECT 1 FROM positions p JOIN settlements s ON s.window_slug = p.window_slug "
            "AND s.mode = p.mode WHERE p.position_id = %s AND p.state = 'CLOSED' "
            "AND p.pnl_net IS NOT NULL",
            position_id,
        )
    )


def test_a_restart_adopts_and_settles_the_paper_and_dry_run_copies_positions(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        promote(db_url, "always-trade-canary", "canary")
        asyncio.run(_restart(db_url, server.base_url))
    finally:
        server.stop()


async def _restart(db_url: str, base_url: str) -> None:
    config = lambda: runner_config(base_url, copies=("paper", "dry-run"))  # noqa: E731
    first: Runner = make_runner(db_url, config())
    async with running(first):
        held = await until(
            lambda: (
                [open_positions(db_url, m)[0] for m in COPIES]
                if all(open_positions(db_url, m) for m in COPIES)
                else None
            ),
            timeout=60,
            what="an open position in each copy",
        )
        first.request_stop("test: stop with the copies' positions open")
    left = {
        mode: {p["position_id"] for p in positions}
        for mode, positions in rows(
            db_url,
            "SELECT mode, open_positions FROM runner_stops WHERE instance_id = %s",
            first.config.instance_id,
        )
    }
    for mode, (pid, _) in zip(COPIES, held, strict=True):
        still_open = open_positions(db_url, mode)
        if pid in {p for p, _ in still_open}:  # not settled by the stop's drain
            assert pid in left.get(mode, set()), (mode, left)
    pending = {m: [p for p, _ in open_positions(db_url, m)] for m in COPIES}
    assert any(pending.values()), "every copy position settled before the restart"
    second = make_runner(db_url, config())
    async with running(second):
        status = await health(second)
        copies = status["adoption_copies"]
        for slot in second.slots[1:]:
            mode = str(slot.engine.mode)
            adopted = copies[slot.name]
            assert "error" not in adopted, adopted
            assert set(pending[mode]) <= set(adopted["positions"]), (mode, adopted)
            for pid in pending[mode]:
                assert pid in slot.engine.positions.positions
            venue = slot.engine.ledger.venue
            ledger = slot.engine.ledger
            assert venue.cash == ledger.cash  # the simulated venue's book is the ledger's
        for mode, pids in pending.items():
            for pid in pids:
                await until(
                    lambda m=mode, p=pid: settled(db_url, m, p),
                    timeout=90,
                    what=f"the adopted {mode} position {pid} settled",
                )
        for slot in second.slots[1:]:
            assert not slot.engine.breaker.tripped, slot.engine.breaker.reasons
    for mode in COPIES:
        per_window = rows(
            db_url,
            "SELECT window_slug, count(*) FROM orders WHERE mode = %s AND purpose = 'ENTRY' "
            "GROUP BY window_slug HAVING count(*) > 2",
            mode,
        )
        assert per_window == [], (mode, per_window)
