"""Runtime controls into the engines: each changed control becomes a `control` event for every
engine (copies keep their own trading_mode); `emergency` also cancels every resting order of the
wallet at the venue; a finished flatten / emergency is closed by writing `kill_switch=pause`
(audited `changed_by='runner'`). The controls themselves are read by controls_watch.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg_pool import ConnectionPool

from live.kernel.controls import Controls, KillSwitch
from live.kernel.engine import Engine
from live.kernel.events import ControlChange
from live.runner.alarms import RaiseAlert
from live.runner.offloop import OffLoopWrites
from live.runner.slots import EngineSlot
from live.store import controls as control_store


class ControlApplier:
    """`apply(snapshot)` runs every tick and on every NOTIFY. `dispatch(slot, event)` is the
    runner's one way into an engine; `cancel_all` the gateway's venue-wide cancel; `is_trader`
    whether this process may order."""

    def __init__(
        self,
        slots: list[EngineSlot],
        dispatch: Callable[[EngineSlot, Any], None],
        now_ms: Callable[[], int],
        pool: ConnectionPool,
        alert: RaiseAlert,
        is_trader: Callable[[], bool],
        cancel_all: Callable[[], Awaitable[None]],
    ) -> None:
        self._slots = slots
        self._dispatch = dispatch
        self._now_ms = now_ms
        self._pool = pool
        self._alert = alert
        self._is_trader = is_trader
        self._cancel_all = cancel_all
        self.applied: Controls | None = None
        self._background: set[asyncio.Task] = set()
        self.writes = OffLoopWrites("controls")
        self._pausing = False

    def apply(self, snapshot: Controls) -> None:
        """Hand changed controls to every engine as `control` events; finish flatten/emergency
        by setting the kill switch to pause once nothing is open or working."""
        old = self.applied.as_mapping() if self.applied else {}
        self.applied = snapshot
        primary = self._slots[0]
        for key, value in snapshot.as_mapping().items():
            if old.get(key) == value:
                continue
            for slot in self._slots:
                if key == "trading_mode" and slot is not primary:
                    continue  # copies keep their own mode (slots.shadow_controls)
                self._dispatch(slot, ControlChange(self._now_ms(), key, value))
            if key == "kill_switch" and value == "emergency":
                self._cancel_everything()
            if key == "kill_switch" and old:
                self._alert(
                    "kill_switch_used",
                    "runtime_controls",
                    f"kill_switch set to {value}",
                    f"engine trading state is now {primary.engine.trading_state}",
                )
        if kill_switch_settled(snapshot, primary.engine) and self._is_trader():
            if not self._pausing:  # written off the event loop (issue 15), once per episode
                self._pausing = True
                self.writes.submit("kill_switch pause", self._write_pause)
        else:
            self._pausing = False

    def _write_pause(self) -> None:
        with self._pool.connection() as conn:
            control_store.write(conn, "kill_switch", "pause", "runner")

    def _cancel_everything(self) -> None:
        """Emergency: cancel every resting order of this wallet at the venue (cancel-all), not
        only the ones the engine knows; the engine cancels its own working orders as well."""
        if not self._slots[0].venue_orders or not self._is_trader():
            return

        async def cancel_all() -> None:
            try:
                await self._cancel_all()
            except Exception as exc:  # noqa: BLE001 - alert; the engine's own cancels continue
                self._alert(
                    "kill_switch_used",
                    "emergency cancel-all",
                    f"cancel-all failed: {exc}",
                    "engine orders cancelled one by one; check the venue for resting orders",
                )

        self._background.add(task := asyncio.get_running_loop().create_task(cancel_all()))
        task.add_done_callback(self._background.discard)


def kill_switch_settled(controls: Controls, engine: Engine) -> bool:
    """A flatten/emergency has finished: nothing open, nothing working."""
    if controls.kill_switch not in (KillSwitch.FLATTEN, KillSwitch.EMERGENCY):
        return False
    return not any(True for _ in engine.positions.open_positions()) and not any(
        True for _ in engine.orders.working()
    )
