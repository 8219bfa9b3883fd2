"""The health endpoint's JSON (what `updown status` prints and the dashboard reads), composed
from the runner's parts. Parts not built yet (early in startup) are None and shown as such."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Protocol

from psycopg_pool import ConnectionPool

from live.runner import adoption as adoption_steps
from live.runner.config import RunnerConfig
from live.runner.controls_watch import ControlsWatcher
from live.runner.feed_guard import FeedGuard
from live.runner.gateway import OrderGateway
from live.runner.recorder import Recorder
from live.runner.role import TraderRole
from live.runner.slots import EngineSlot
from live.runner.strategy_gate import StrategyGate
from live.runner.windows import WindowTracker


class RunnerView(Protocol):
    """What the health JSON reads: the runner's parts (None until built) and loop counters."""

    config: RunnerConfig
    started: float  # time.monotonic() at construction
    slots: list[EngineSlot]
    pool: ConnectionPool | None
    role: TraderRole | None
    gate: StrategyGate | None
    controls: ControlsWatcher | None
    feed_guard: FeedGuard | None
    recorder: Recorder | None
    windows: WindowTracker | None
    gateway: OrderGateway | None
    reconciliation: dict[str, Any]
    adoption: dict[str, Any]  # what the start or takeover adopted (live/runner/adoption.py)
    adoption_copies: dict[str, dict[str, Any]]  # per simulated slot (live/runner/adoption_sim.py)
    clock_offset_ms: int
    clock: Any  # live.runner.clock.ClockWatch
    max_tick_ms: int
    events_processed: int


def health_status(r: RunnerView) -> dict[str, Any]:
    """The JSON document of `GET /health` (fields in docs/runner.md)."""
    primary = r.slots[0].engine if r.slots else None
    watcher = r.controls
    # the last snapshot: /health is served on the event loop, which never reads the database
    controls = watcher.snapshot if watcher is not None else None
    breaker = primary.breaker if primary is not None else None
    observer_reasons = list(r.role.observer_reasons) if r.role is not None else []
    ok = (
        primary is not None
        and not observer_reasons
        and not (breaker is not None and breaker.tripped)
        and not (watcher.failed_closed if watcher is not None else True)
    )
    return {
        "status": "ok" if ok else "degraded",
        "instance_id": r.config.instance_id,
        "mode": str(r.config.mode).upper().replace("-", "_"),
        "venue": "SANDBOX" if r.config.venue == "sandbox" else "POLYMARKET",
        "venue_url": r.config.sandbox_url,
        "uptime_s": round(time.monotonic() - r.started, 1),
        "trading_state": str(primary.trading_state) if primary else "STARTING",
        "breaker": {
            "tripped": bool(breaker and breaker.tripped),
            "reasons": list(getattr(breaker, "reasons", []) or [])[-5:],
        },
        "lock": {
            "held": r.role is not None and r.role.lock.held,
            "role": r.role.name if r.role is not None else "observer",
            "observer_reasons": observer_reasons,
            "takeovers": r.role.takeovers if r.role is not None else 0,
        },
        "adoption": r.adoption,
        "adoption_copies": r.adoption_copies,
        "controls": controls.as_mapping() if controls else None,
        "controls_error": watcher.error if watcher is not None else "starting",
        "feeds": r.feed_guard.watchdog.snapshot() if r.feed_guard is not None else {},
        "stale_assets": sorted(r.feed_guard.stale_assets) if r.feed_guard is not None else [],
        # reconnects per channel and the REST book re-reads after them (read / failed)
        "feed_sockets": r.feeds.stats() if getattr(r, "feeds", None) is not None else {},
        "clock_offset_ms": r.clock_offset_ms,
        "clock": r.clock.health() if getattr(r, "clock", None) is not None else None,
        "db": _db(r),
        "recorder": r.recorder.stats() if r.recorder is not None else {},
        "assertions": dict(r.slots[0].last_assertions) if r.slots else {},
        "reconciliation": r.reconciliation,
        "strategies": _strategies(r, controls),
        "engines": [_engine(slot) for slot in r.slots],
        "windows": _windows(r.windows),
        "orders": {
            "sent": r.gateway.sent if r.gateway is not None else 0,
            "refused_as_observer": r.gateway.refused if r.gateway is not None else 0,
        },
        "store_writes": _store_writes(r),
        "guarded_failures": r.guarded.status() if getattr(r, "guarded", None) else {},
        "adoption_unexpected": dict(adoption_steps.UNEXPECTED),
        "max_tick_ms": r.max_tick_ms,
        "events_processed": r.events_processed,
    }


def _db(r: RunnerView) -> dict[str, Any]:
    out: dict[str, Any] = {"pool_utilization": None, "last_write_age_s": None}
    pool = r.pool
    if pool is not None:
        stats = pool.get_stats()
        size = max(stats.get("pool_size", 0), 1)
        busy = size - stats.get("pool_available", 0)
        out["pool_utilization"] = round(busy / pool.max_size, 3)
        out["pool_waiting"] = stats.get("requests_waiting", 0)
    writes = [s.persist.last_write for s in r.slots if s.persist.last_write is not None]
    if writes:
        out["last_write_age_s"] = round(time.monotonic() - max(writes), 2)
    out["write_failures"] = sum(s.persist.failures for s in r.slots)
    return out


def _store_writes(r: RunnerView) -> dict[str, Any]:
    """The writes queued off the event loop (live/runner/offloop.py): waiting, lost."""
    parts = (
        ("windows", r.windows),
        ("feed_gaps", r.feed_guard),
        ("controls", getattr(r, "applier", None)),
    )
    return {name: part.writes.status() for name, part in parts if part is not None}


def _strategies(r: RunnerView, controls: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not r.slots or r.gate is None:
        return out
    primary = r.slots[0].engine
    for strategy in primary.config.strategies:
        if strategy.name in r.gate.disabled:
            out[strategy.name] = "disabled_by_kill_criterion"
        elif controls is not None and not controls.strategy_allowed(
            strategy.name, strategy.aliases
        ):
            out[strategy.name] = "not_allowed"
        elif str(primary.mode) == "LIVE" and not r.gate.promoted(strategy.name):
            out[strategy.name] = "not_promoted"
        elif str(primary.trading_state) != "ACTIVE":
            out[strategy.name] = "paused"
        else:
            out[strategy.name] = "active"
    return out


def _engine(slot: EngineSlot) -> dict[str, Any]:
    e = slot.engine
    closed = [p for p in e.positions if p.pnl_net is not None]
    gross = sum((p.pnl_gross for p in closed if p.pnl_gross is not None), start=Decimal(0))
    net = sum((p.pnl_net for p in closed), start=Decimal(0))
    return {
        "name": slot.name,
        "mode": str(e.mode),
        "run_id": e.run_id,
        "trading_state": str(e.trading_state),
        "open_positions": sum(1 for _ in e.positions.open_positions()),
        "closed_positions": len(closed),
        "session_pnl": {"gross": str(gross), "net": str(net)},
        "balance": None if e.venue_cash is None else str(e.venue_cash),
        "ledger_cash": None if e.cash is None else str(e.cash),
        # resolved, awaiting redemption (LIVE on Polymarket), and fills matched not CONFIRMED
        "receivable": str(e.ledger.receivables.total),
        "awaiting_redemption": len(e.ledger.receivables.pending),
        "unsettled_fills": len(e.orders.unsettled),
    }


def _windows(tracker: WindowTracker | None) -> dict[str, Any]:
    if tracker is None:
        return {}
    return {
        "known": len(tracker.windows),
        "resolved": len(tracker.resolved),
        "not_tradable": dict(list(tracker.not_tradable.items())[:10]),
        "discovery_errors": tracker.errors,
    }
