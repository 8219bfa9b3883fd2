"""The runner's engines: the primary (LIVE sends orders) and its simulated copies, each in a slot
with its persistence. Every part of the runner that trips a breaker, reads a ledger or hands an
engine an event gets the slot list, never the runner."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from live.kernel.controls import Controls
from live.kernel.domain import Mode
from live.kernel.engine import Engine, EngineConfig
from live.kernel.executors import DryRunExecutor, PaperExecutor
from live.kernel.prereg_limits import PreregLimits
from live.kernel.strategy import Strategy
from live.runner.config import RunnerConfig
from live.runner.persist import EnginePersistence


@dataclass
class EngineSlot:
    """One engine, its persistence, and whether it receives the venue's order answers."""

    name: str
    engine: Engine
    persist: EnginePersistence
    venue_orders: bool
    last_assertions: dict[str, bool] = field(default_factory=dict)


def build_slots(
    config: RunnerConfig,
    db_url: str,
    strategies: list[Strategy],
    controls: Controls,
    promoted: Callable[[str], bool],
    prereg: Callable[[str], PreregLimits | None] = lambda name: None,
) -> list[EngineSlot]:
    """The primary slot first, then one per `--copies` mode; each engine opens its run now."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())

    def slot(name: str, mode: Mode, venue_orders: bool) -> EngineSlot:
        run_id = f"{config.instance_id}-{name}-{stamp}"
        simulated = mode is not Mode.LIVE
        engine = Engine(
            EngineConfig(
                mode=mode,
                strategies=strategies,
                run_id=run_id,
                controls=controls if name == "primary" else shadow_controls(controls, mode),
                balance_usd=config.paper_balance_usd if simulated else None,
                promoted=promoted,
                prereg=prereg,
                executor=_executor(mode, config.paper_balance_usd),
                signal_id_prefix="" if name == "primary" else f"{mode}:",
            )
        )
        names = ",".join(s.name for s in strategies)
        persist = EnginePersistence(
            db_url,
            run_id,
            mode,
            names,
            list(config.assets),
            statement_timeout_ms=int(config.db_statement_timeout_s * 1000),
            venue=config.venue,
        )
        return EngineSlot(name, engine, persist, venue_orders)

    mode = config.mode.engine_mode
    slots = [slot("primary", mode, venue_orders=mode is Mode.LIVE)]
    slots += [slot(f"{copy}-copy", copy.engine_mode, venue_orders=False) for copy in config.copies]
    return slots


def shadow_controls(controls: Controls, mode: Mode) -> Controls:
    """A copy engine follows every control except trading_mode, which is its own mode: the
    control chooses how the primary trades; the copies shadow it in their simulated modes."""
    return controls.with_value("trading_mode", str(mode))


def _executor(mode: Mode, balance: Decimal) -> Any:
    """Simulated modes get their own executor (and ledger); LIVE answers come from the venue."""
    if mode is Mode.PAPER:
        return PaperExecutor(balance)
    if mode is Mode.DRY_RUN:
        return DryRunExecutor(balance)
    return None


def trip(slots: Iterable[EngineSlot], reason: str, *, ordering_only: bool = False) -> None:
    """Trip the breaker of every engine (or only of those that send orders to the venue)."""
    for slot in slots:
        if slot.venue_orders or not ordering_only:
            slot.engine.trip(reason)


def lift(slot: EngineSlot, reason: str, ts: int, why: str) -> bool:
    """The cause `reason` of a trip is gone: remove it from the breaker's reasons, and reset the
    breaker once no other reason remains (another cause still present, an assertion or an
    operator's trip keeps it tripped). True if the breaker was reset."""
    breaker = slot.engine.breaker
    if not breaker.tripped or reason not in breaker.reasons:
        return False
    breaker.reasons[:] = [r for r in breaker.reasons if r != reason]
    if breaker.reasons:
        return False
    slot.engine.reset_breaker(ts, why)
    slot.persist.add(slot.engine.take_records())
    return True


def run_summary(slot: EngineSlot, events: int, max_tick_ms: int) -> dict[str, Any]:
    """What closes an engine's run row: events seen, positions, settled net P&L, final state."""
    engine = slot.engine
    closed = [p for p in engine.positions if p.pnl_net is not None]
    return {
        "events": events,
        "positions": len(list(engine.positions)),
        "closed": len(closed),
        "pnl_net": str(sum((p.pnl_net for p in closed), start=Decimal(0))),
        "trading_state": str(engine.trading_state),
        "max_tick_ms": max_tick_ms,
    }
