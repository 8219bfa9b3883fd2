"""Trading state (DESIGN §4): ACTIVE, PAUSED, FLATTENING, EMERGENCY, from the kill switch control
and the circuit breaker. PAUSED stops new entries while exits keep working; FLATTENING closes every
position at market, then is PAUSED; EMERGENCY also cancels every working order, then is PAUSED."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from live.kernel.audit import breaker_sentence
from live.kernel.controls import KillSwitch
from live.kernel.domain import Mode, TradingState
from live.kernel.records import BreakerRecord


def derive_state(
    kill_switch: KillSwitch, breaker_tripped: bool, open_positions: int, working_orders: int
) -> TradingState:
    """The trading state implied by the controls, the breaker and what is still open."""
    if kill_switch is KillSwitch.EMERGENCY:
        busy = open_positions > 0 or working_orders > 0
        return TradingState.EMERGENCY if busy else TradingState.PAUSED
    if kill_switch is KillSwitch.FLATTEN:
        return TradingState.FLATTENING if open_positions > 0 else TradingState.PAUSED
    if kill_switch is KillSwitch.PAUSE or breaker_tripped:
        return TradingState.PAUSED
    return TradingState.ACTIVE


@dataclass
class Breaker:
    """The circuit breaker: once tripped, no new entries until an operator resets it."""

    mode: Mode
    run_id: str | None
    tripped: bool = False
    reasons: list[str] = field(default_factory=list)

    def trip(self, ts: int, reason: str, detail: dict[str, Any] | None = None) -> BreakerRecord:
        self.tripped = True
        self.reasons.append(reason)
        return _record(ts, True, reason, detail or {}, self.mode, self.run_id)

    def reset(self, ts: int, reason: str) -> BreakerRecord:
        self.tripped = False
        return _record(ts, False, reason, {}, self.mode, self.run_id)


def _record(
    ts: int, tripped: bool, reason: str, detail: dict[str, Any], mode: Mode, run_id: str | None
) -> BreakerRecord:
    """The `breaker_events` row with its sentence, rendered from the row's own fields."""
    inputs = {"ts": ts, "tripped": tripped, "reason": reason, "detail": detail}
    return BreakerRecord(ts, tripped, reason, detail, mode, run_id, audit=breaker_sentence(inputs))
