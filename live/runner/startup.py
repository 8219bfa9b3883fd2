"""Startup reconciliation for a LIVE trader (FM19): the venue's open orders and positions against
the database. A mismatch, or a venue query that fails, trips the breaker and leaves the runner
an observer until an operator resolves it."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from live.runner.reconcile import BookSide, Reconciliation, compare, db_side, record

if TYPE_CHECKING:
    from live.runner.runner import Runner

log = logging.getLogger(__name__)


async def reconcile_at_start(runner: Runner) -> Reconciliation:
    mode = str(runner.primary.engine.mode)
    venue_view: dict = {}
    try:
        snapshot = await runner.venue.snapshot(since_ts=runner.now_ms() - 86_400_000)
        venue_side = BookSide(
            {t: s for t, s in snapshot.positions.items() if s > 0},
            snapshot.open_order_ids,
            snapshot.balance_usd,
            frozenset(t.venue_order_id for t in snapshot.recent_trades),
        )
        venue_view = {
            "positions": {t: str(s) for t, s in venue_side.positions.items()},
            "open_orders": sorted(venue_side.open_orders),
            "balance": str(snapshot.balance_usd),
            "recent_trades": len(snapshot.recent_trades),
        }
        ours = await asyncio.to_thread(db_side, runner.pool, mode)
        result = Reconciliation(ok=True, differences=compare(ours, venue_side))
        result.ok = not result.differences
    except Exception as exc:  # noqa: BLE001 - a failed query is a failed reconciliation
        result = Reconciliation(ok=False, error=f"venue query failed: {type(exc).__name__}: {exc}")
    await asyncio.to_thread(record, runner.pool, runner.config.instance_id, result, venue_view)
    runner.reconciliation = {
        "ok": result.ok,
        "differences": result.differences,
        "error": result.error,
    }
    if not result.ok:
        reason = result.error or f"{len(result.differences)} difference(s) with the venue"
        runner.guards.observe(f"startup reconciliation failed: {reason}")
        runner.guards.alert(
            "reconciliation_mismatch",
            runner.config.instance_id,
            reason,
            "breaker tripped; staying observer until resolved",
            differences=result.differences[:20],
        )
    return result
