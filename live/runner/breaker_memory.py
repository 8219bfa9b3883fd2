"""The circuit breaker across a restart (issue 15): a sticky trip — one only an operator may clear
(a runtime assertion failed, an invalid state transition, contradicting venue resolutions) — is
recorded in `breaker_events`; a runner that starts reads, per engine mode, the last such trip and,
unless an operator reset it since — an audited change of the kill switch to `off` after the trip
(`control_changes`: `updown control pause` then `updown control resume`, or the dashboard's kill
switch; writing `off` over `off` changes nothing and is not audited) — starts with that engine's
breaker tripped, the recorded reason carried over. The
trips the runner lifts by itself (observer, lock, store unreachable, health endpoint, heartbeat,
an adoption or reconciliation failure: all judged again at each start) are not carried."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)
# Reasons of the trips the engine records (live/kernel/engine.py) that no runner lifts.
STICKY_PREFIXES = ("assertion failed:", "invalid transition:", "contradicting venue resolutions")
CARRIED = (
    "carried over from run {run_id}: {reason} "
    "(reset: `updown control pause`, then `updown control resume`)"
)


@dataclass(frozen=True)
class CarriedTrip:
    """The last sticky trip of a mode that no operator reset since: when (epoch ms), why, where."""

    ts: int
    reason: str
    run_id: str | None
    event_id: int

    @property
    def carried_reason(self) -> str:
        return CARRIED.format(run_id=self.run_id or "?", reason=self.reason)


def is_sticky(reason: str) -> bool:
    """True for a trip only an operator may clear (see the module docstring)."""
    return reason.startswith(STICKY_PREFIXES)


def last_unreset_trip(conn: psycopg.Connection, mode: str) -> CarriedTrip | None:
    """The last sticky trip of `mode` in `breaker_events`, unless the kill switch was changed to
    `off` after it (the operator's reset, audited) or that run itself reset its breaker after it."""
    patterns = [f"{p}%" for p in STICKY_PREFIXES]
    row = conn.execute(
        """SELECT id, ts, reason, run_id FROM breaker_events
           WHERE mode = %s AND tripped AND reason LIKE ANY(%s)
           ORDER BY id DESC LIMIT 1""",
        (mode, patterns),
    ).fetchone()
    if row is None:
        return None
    event_id, ts, reason, run_id = row
    reset = conn.execute(
        "SELECT 1 FROM control_changes WHERE key = 'kill_switch' AND new_value = 'off' "
        "AND changed_at > %s",
        (ts,),
    ).fetchone()
    reset = (
        reset
        or conn.execute(
            "SELECT 1 FROM breaker_events WHERE mode = %s AND NOT tripped AND id > %s "
            "AND run_id IS NOT DISTINCT FROM %s",
            (mode, event_id, run_id),
        ).fetchone()
    )
    if reset is not None:
        return None
    return CarriedTrip(_ms(ts), reason, run_id, event_id)


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _read(pool: ConnectionPool, modes: list[str]) -> dict[str, CarriedTrip | None]:
    with pool.connection() as conn:
        return {mode: last_unreset_trip(conn, mode) for mode in modes}


async def carry_trips(runner: Any) -> dict[str, str]:
    """At a start, before anything trades: each engine whose mode has an unreset sticky trip
    starts tripped with its reason; returns {slot name: carried reason}. A failed read trips
    every engine (fail closed: the runner cannot tell whether a trip is pending)."""
    slots = runner.slots
    now = runner.now_ms()
    try:
        found = await asyncio.to_thread(
            _read, runner.pool, sorted({str(s.engine.mode) for s in slots})
        )
    except psycopg.Error as exc:
        reason = f"breaker state of earlier runs unreadable: {type(exc).__name__}: {exc}"
        found = {}
        carried = {s.name: reason for s in slots}
    else:
        carried = {
            s.name: trip.carried_reason
            for s in slots
            if (trip := found.get(str(s.engine.mode))) is not None
        }
    for slot in slots:
        reason = carried.get(slot.name)
        if reason is None:
            continue
        slot.engine.now = max(slot.engine.now, now)
        trip = found.get(str(slot.engine.mode))
        detail = {} if trip is None else {"event_id": trip.event_id, "tripped_ts": trip.ts}
        slot.engine.trip(reason, detail)
        slot.persist.add(slot.engine.take_records())
        log.warning("%s starts with its breaker tripped: %s", slot.name, reason)
        runner.alarms.raise_(
            "breaker_tripped",
            slot.name,
            reason,
            "new entries stay stopped until an operator resets the kill switch",
        )
    return carried
