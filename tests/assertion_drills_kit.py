"""The rig of the ten assertion drills (issue 16, item 1): one LIVE runner on the sandbox through
the real SDK, one 20 s window per drill.

Window phases (open = O): the probe (`drill-probe`, $3 on ETH, held) enters at O+1; the fault
goes in once its position is open; the drill waits for the failed assertion row, the breaker
event and the alert, then undoes the fault; while the breaker is still tripped the kill switch
`flatten` proves exits still run (the probe's position leaves at market) and `drill-canary` ($1
on BTC, at O+14.4) proves entries are denied (TRADING_STATE). The breaker is then reset for the
next drill. The canary report of the whole module is read at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner_kit import (
    Faults,
    LoopThread,
    poll,
    rows,
    scalar,
    set_controls,
    slug_of,
    window_open_after,
)

from live.kernel.domain import Asset, Position
from live.kernel.strategy import EntryTiming, Scope
from strategies.canary import Canary

PROBE = Canary(
    name="drill-probe",
    timing=EntryTiming(before_close_ms=19_000),
    scope=Scope(assets=frozenset({Asset.ETH})),
    params={"usd": "3"},
)
LATE = Canary(
    name="drill-canary",
    timing=EntryTiming(before_close_ms=5_600),
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
        denied = poll(
            lambda: rows(
                self.db_url,
                "SELECT verdict, code FROM decisions WHERE run_id = %s AND window_slug = %s "
                "AND strategy = %s",
                self.run_id,
                btc,
                LATE.name,
            ),
            25,
            what="drill-canary's decision",
        )
        self._reset_breaker(name)
        trip = Trip(name, eth, failed[0][0], breaker[0], alert[0][0], exit_order, denied[0])
        self.trips[name] = trip
        return trip

    def _flatten_while_tripped(self, position: Position) -> dict[str, Any]:
        """Kill switch `flatten` while the breaker is tripped: the probe's position leaves at
        market (an exit order sent and filled — a FAK's unfilled remainder ends CANCELLED);
        the runner then sets `pause` itself, and the drill sets `off` again."""
        assert self.on_loop(lambda: self.engine.breaker.tripped), "breaker not tripped"
        set_controls(self.db_url, kill_switch="flatten")
        try:
            found = self._poll_window(
                position,
                lambda: rows(
                    self.db_url,
                    "SELECT state, filled_shares, created_ts FROM orders WHERE run_id = %s "
                    "AND position_id = %s AND purpose = 'EXIT' AND filled_shares > 0 "
                    "AND state IN ('FILLED', 'CANCELLED')",
                    self.run_id,
                    position.position_id,
                ),
                "the probe's exit filled while the breaker is tripped",
            )
            poll(
                lambda: scalar(
                    self.db_url, "SELECT value FROM runtime_controls WHERE key = 'kill_switch'"
                )
                == "pause",
                10,
                what="the runner's own pause once flat",
            )
        finally:
            set_controls(self.db_url, kill_switch="off")
        tripped = self.on_loop(lambda: self.engine.breaker.tripped)
        state, filled, created = found[0]
        return {"state": state, "filled": filled, "created": created, "tripped_after": tripped}

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
