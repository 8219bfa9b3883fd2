"""The rig of the ten assertion drills (issue 16, item 1): one LIVE runner on the sandbox through
the real SDK, one 20 s window per drill.

Window phases (open = O): the probe (`drill-probe`, $3 on ETH, held) enters at O; the fault
goes in once its position is open; the drill waits for the failed assertion row, the breaker
event and the alert, then undoes the fault; while the breaker is still tripped the kill switch
`flatten` proves exits still run (the probe's position leaves at market) and `drill-canary`
($1 on BTC, asking only once armed, see ARMED) proves entries are denied (TRADING_STATE). The
breaker is then reset for the next drill. The canary report of the module is read at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner_kit import (
    WINDOW_S,
    Faults,
    LoopThread,
    poll,
    rows,
    scalar,
    set_controls,
    slug_of,
    window_open_after,
)

from live.kernel.domain import Asset, Position, Signal
from live.kernel.strategy import EntryTiming, Scope, WindowView
from strategies.canary import Canary

PROBE = Canary(
    name="drill-probe",
    timing=EntryTiming(),  # at the window's open
    scope=Scope(assets=frozenset({Asset.ETH})),
    params={"usd": "3"},
)
# Allowed only during drill 2: its entry is the order the venue answers late (on BTC, so the
# probe's ETH position stays exitable).
DELAYED = Canary(
    name="drill-delayed",
    timing=EntryTiming(),  # at the window's open
    scope=Scope(assets=frozenset({Asset.BTC})),
)
ALLOWED = f"{PROBE.name},drill-canary"
# Set by the drill once the breaker has tripped and the exit is done: drill-canary signals only
# then (until then it returns None and the engine re-evaluates it on every book change), so the
# denied entry is one asked for while tripped, whatever the fault's latency.
ARMED = threading.Event()


@dataclass(frozen=True, slots=True)
class ArmedCanary(Canary):
    def evaluate(self, view: WindowView) -> Signal | None:
        return Canary.evaluate(self, view) if ARMED.is_set() else None


LATE = ArmedCanary(
    name="drill-canary",
    timing=EntryTiming(repeat=True),  # from the open, on every book change until it signals
    scope=Scope(assets=frozenset({Asset.BTC})),
)


@dataclass
class Trip:
    """What one drill observed: the failed row's detail, the breaker event, the alert, the exit
    placed while tripped and the denied entry."""

    name: str
    slug: str
    detail: dict[str, Any]
    breaker: tuple[str, dict]
    alert: str
    exit_order: dict[str, Any]
    denied: tuple[str, str | None]


@dataclass
class DrillRig:
    db_url: str
    faults: Faults
    thread: LoopThread
    trips: dict[str, Trip] = field(default_factory=dict)

    @property
    def runner(self):
        return self.thread.runner

    @property
    def engine(self):
        return self.runner.primary.engine

    @property
    def run_id(self) -> str:
        return self.engine.run_id

    def on_loop(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the runner's loop (engine state is only touched there)."""

        async def call() -> Any:
            return fn()

        return self.thread.call(call)

    def probe_position(self, slug: str) -> Position:
        def found() -> Position | None:
            def pick() -> Position | None:
                for p in self.engine.positions.open_positions():
                    if p.window_slug == slug and p.strategy == PROBE.name and p.shares > 0:
                        track = self.engine.positions.tracks[p.position_id]
                        return None if track.unsettled else p  # the fill CONFIRMED first
                return None

            return self.on_loop(pick)

        try:
            return poll(found, 20, what=f"the probe's open position on {slug}, fill confirmed")
        except AssertionError as exc:
            seen = rows(
                self.db_url,
                "SELECT verdict, code, detail FROM decisions WHERE run_id = %s AND "
                "window_slug = %s",
                self.run_id,
                slug,
            )
            orders = rows(
                self.db_url,
                "SELECT client_order_id, state, filled_shares, reason FROM orders "
                "WHERE run_id = %s AND window_slug = %s",
                self.run_id,
                slug,
            )
            tracks = self.on_loop(
                lambda: [
                    (p.position_id, str(p.state), self.engine.positions.tracks[p.position_id])
                    for p in self.engine.positions
                    if p.window_slug == slug
                ]
            )
            raise AssertionError(f"{exc}; decisions {seen}; orders {orders}; {tracks}") from None

    def entry_order(self, position: Position):
        def pick():
            for o in self.engine.orders:
                if o.position_id == position.position_id and o.purpose.value == "ENTRY":
                    return o
            return None

        return poll(lambda: self.on_loop(pick), 10, what="the probe's entry order")

    def drill(
        self,
        name: str,
        plant: Callable[[DrillRig, Position], Callable[[], None]],
        before_entry: Callable[[DrillRig], None] | None = None,
    ) -> Trip:
        """One window: the probe enters, `plant` plants the fault (returns its undo), and the
        drill collects the evidence (see the module docstring)."""
        ARMED.clear()
        open_s = window_open_after(margin_s=1.0)
        time.sleep(max(0.0, open_s - 0.7 - time.time()))
        planted_at = datetime.now(UTC)
        if before_entry is not None:
            before_entry(self)  # a venue fault on the probe's own entry order
        eth, btc = slug_of("ETH", open_s), slug_of("BTC", open_s)
        position = self.probe_position(eth)
        if before_entry is None:
            planted_at = datetime.now(UTC)
        undo = plant(self, position)
        failed = poll(
            lambda: rows(
                self.db_url,
                "SELECT detail FROM assertion_results WHERE name = %s AND NOT ok AND run_id = %s "
                "AND ts >= %s ORDER BY ts LIMIT 1",
                name,
                self.run_id,
                planted_at,
            ),
            20,
            what=f"a failed {name} row",
        )
        breaker = poll(
            lambda: rows(
                self.db_url,
                "SELECT reason, detail FROM breaker_events WHERE tripped AND run_id = %s "
                "AND reason = %s AND ts >= %s ORDER BY ts LIMIT 1",
                self.run_id,
                f"assertion failed: {name}",
                planted_at,
            ),
            10,
            what=f"the breaker event of {name}",
        )
        alert = poll(
            lambda: rows(
                self.db_url,
                "SELECT message FROM alerts WHERE kind = 'assertion_failed' AND message LIKE %s "
                "AND ts >= %s",
                f"%assertion {name} failed%",
                planted_at,
            ),
            10,
            what=f"the alert of {name}",
        )
        undo()
        exit_order = self._flatten_while_tripped(position)
        ARMED.set()
        # This window's entry period, or (a fault that trips late) the next window's: the
        # breaker stays tripped until the denial is seen.
        later = slug_of("BTC", open_s + WINDOW_S)
        denied = poll(
            lambda: rows(
                self.db_url,
                "SELECT verdict, code FROM decisions WHERE run_id = %s AND strategy = %s "
                "AND window_slug IN (%s, %s) ORDER BY ts LIMIT 1",
                self.run_id,
                LATE.name,
                btc,
                later,
            ),
            WINDOW_S + 15,
            what="drill-canary's decision",
        )
        ARMED.clear()
        self._reset_breaker(name)
        trip = Trip(name, eth, failed[0][0], breaker[0], alert[0][0], exit_order, denied[0])
        self.trips[name] = trip
        return trip

    def _flatten_while_tripped(self, position: Position) -> dict[str, Any]:
        """Kill switch `flatten` while the breaker is tripped: the probe's position is told to
        leave and its exit order is sent and filled (a FAK's unfilled remainder ends
        CANCELLED) — or, when its bid has fallen so far that the exit is under the venue's $1
        minimum, the exit is held with an `exit_blocked` alert (the venue would refuse it).
        The runner then sets `pause` itself, and the drill sets `off` again."""
        assert self.on_loop(lambda: self.engine.breaker.tripped), "breaker not tripped"
        set_controls(self.db_url, kill_switch="flatten")
        pid = position.position_id

        def exited() -> dict[str, Any] | None:
            sold = rows(
                self.db_url,
                "SELECT state, filled_shares FROM orders WHERE run_id = %s AND position_id = %s "
                "AND purpose = 'EXIT' AND filled_shares > 0 AND state IN ('FILLED', 'CANCELLED')",
                self.run_id,
                pid,
            )
            if sold:
                return {"state": sold[0][0], "filled": sold[0][1]}
            held = rows(
                self.db_url,
                "SELECT message FROM alerts WHERE kind = 'exit_blocked' AND message LIKE %s",
                f"%{pid}%",
            )
            if not held:
                return None
            return {"state": "HELD_UNDER_MINIMUM", "filled": 0, "alert": held[0][0]}

        try:
            found = self._poll_window(position, exited, "the probe's exit while tripped")
            poll(
                lambda: (
                    scalar(
                        self.db_url, "SELECT value FROM runtime_controls WHERE key = 'kill_switch'"
                    )
                    == "pause"
                ),
                25,
                what="the runner's own pause once flat",
            )
        finally:
            set_controls(self.db_url, kill_switch="off")
        flatten = rows(
            self.db_url,
            "SELECT ts FROM position_events WHERE position_id = %s AND to_state = "
            "'FLATTEN_REQUESTED' ORDER BY ts LIMIT 1",
            pid,
        )
        tripped = self.on_loop(lambda: self.engine.breaker.tripped)
        return {**found, "flatten_requested": flatten, "tripped_after": tripped}

    def _poll_window(self, position: Position, probe: Callable[[], Any], what: str) -> Any:
        try:
            return poll(probe, 15, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {self._window_rows(position)}") from None

    def _window_rows(self, position: Position) -> dict[str, Any]:
        """The window's orders and the position's events (a failed drill's message)."""

        def engine_view() -> dict[str, Any]:
            track = self.engine.positions.tracks.get(position.position_id)
            book = self.engine.market.books.get(position.token_id)
            return {
                "unsettled": getattr(track, "unsettled", None),
                "retry_at": getattr(track, "exit_retry_at", None),
                "best_bid": None if book is None else book.best_bid,
                "now": self.engine.now,
                "state": str(self.engine.positions.positions[position.position_id].state),
            }

        return {
            "engine": self.on_loop(engine_view),
            "orders": rows(
                self.db_url,
                "SELECT client_order_id, purpose, state, filled_shares, reason FROM orders "
                "WHERE run_id = %s AND window_slug = %s",
                self.run_id,
                position.window_slug,
            ),
            "events": rows(
                self.db_url,
                "SELECT from_state, to_state, ts FROM position_events WHERE position_id = %s",
                position.position_id,
            ),
        }

    def _reset_breaker(self, name: str) -> None:
        def reset() -> None:
            self.engine.reset_breaker(self.engine.now, f"drill {name} done")
            self.engine.breaker.reasons.clear()

        self.on_loop(reset)
