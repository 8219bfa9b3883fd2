"""The health endpoint's JSON (what `updown status` prints and the dashboard reads)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from live.runner.runner import EngineSlot, Runner


def health_status(r: Runner) -> dict[str, Any]:
    primary = r.primary.engine if r.slots else None
    watcher = getattr(r, "controls", None)
    controls = watcher.current() if watcher is not None else None
    breaker = primary.breaker if primary is not None else None
    ok = (
        primary is not None
        and not getattr(r.guards, "observer_reasons", None)
        and not (breaker is not None and breaker.tripped)
        and not getattr(watcher, "failed_closed", True)
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
            "held": r.lock.held,
            "role": "trader" if r.is_trader else "observer",
            "observer_reasons": list(r.guards.observer_reasons) if hasattr(r, "guards") else [],
        },
        "controls": controls.as_mapping() if controls else None,
        "controls_error": getattr(watcher, "error", "starting"),
        "feeds": r.watchdog.snapshot() if hasattr(r, "watchdog") else {},
        "stale_assets": sorted(r.guards.stale_assets) if hasattr(r, "guards") else [],
        "clock_offset_ms": r.clock_offset_ms,
        "db": _db(r),
        "recorder": r.recorder.stats() if hasattr(r, "recorder") else {},
        "assertions": dict(r.primary.last_assertions) if r.slots else {},
        "reconciliation": r.reconciliation,
        "strategies": _strategies(r, controls),
        "engines": [_engine(slot) for slot in r.slots],
        "windows": _windows(r),
        "orders": {
            "sent": getattr(getattr(r, "gateway", None), "sent", 0),
            "refused_as_observer": getattr(getattr(r, "gateway", None), "refused", 0),
        },
        "max_tick_ms": r.max_tick_ms,
        "events_processed": r.events_processed,
    }


def _db(r: Runner) -> dict[str, Any]:
    out: dict[str, Any] = {"pool_utilization": None, "last_write_age_s": None}
    pool = getattr(r, "pool", None)
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


def _strategies(r: Runner, controls: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not r.slots:
        return out
    for strategy in r.primary.engine.config.strategies:
        if strategy.name in r.guards.disabled:
            out[strategy.name] = "disabled_by_kill_criterion"
        elif controls is not None and not controls.strategy_allowed(
            strategy.name, strategy.aliases
        ):
            out[strategy.name] = "not_allowed"
        elif str(r.primary.engine.mode) == "LIVE" and not r.guards.promoted(strategy.name):
            out[strategy.name] = "not_promoted"
        elif str(r.primary.engine.trading_state) != "ACTIVE":
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
    }


def _windows(r: Runner) -> dict[str, Any]:
    tracker = getattr(r, "windows", None)
    if tracker is None:
        return {}
    return {
        "known": len(tracker.windows),
        "resolved": len(tracker.resolved),
        "not_tradable": dict(list(tracker.not_tradable.items())[:10]),
        "discovery_errors": tracker.errors,
    }
