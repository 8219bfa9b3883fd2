"""Trader or observer (FM19, FM21): only the holder of the sole-trader lock may order, and only
while nothing made it an observer. Losing the lock, a failed startup reconciliation, an exchange
heartbeat the venue did not accept or a silent health endpoint trips the breaker of the engines
concerned and raises an alert. Becoming an observer is for good in this process, with one
exception (issue 15): an instance that is an observer only because another one held the lock at
its start takes over when it gets the lock (live/runner/takeover.py)."""

from __future__ import annotations

from live.runner.alarms import RaiseAlert
from live.runner.lock import LockStatus, SoleTraderLock
from live.runner.slots import EngineSlot, lift, trip

LOCK_HELD_ELSEWHERE = "another instance holds the sole-trader lock"
HEALTH_TRIP = "health endpoint does not answer"


class TraderRole:
    """The lock, the reasons this process is an observer, and the breaker trips at the IO edge.
    `slots` is the runner's engine list (filled once the engines are built)."""

    def __init__(
        self, lock: SoleTraderLock, slots: list[EngineSlot], alert: RaiseAlert, instance_id: str
    ) -> None:
        self.lock = lock
        self._slots = slots
        self._alert = alert
        self._instance_id = instance_id
        self.observer_reasons: list[str] = []
        self.heartbeat_failures = 0
        self.health_failures = 0
        self.health_down = False
        self.lost_lock = False  # held it once and lost it: another instance owns the rows now
        self._heartbeat_trips: set[str] = set()  # breaker reasons failed heartbeats set
        self.takeovers = 0

    @property
    def is_trader(self) -> bool:
        """Holds the lock and nothing made it an observer: it may send orders."""
        return self.lock.held and not self.observer_reasons

    @property
    def name(self) -> str:
        return "trader" if self.is_trader else "observer"

    def observe(self, reason: str) -> None:
        """Become an observer: never order again in this process (FM21, FM19)."""
        if reason not in self.observer_reasons:
            self.observer_reasons.append(reason)
            trip(self._slots, f"observer: {reason}", ordering_only=True)

    @property
    def waiting_for_lock(self) -> bool:
        """An observer only because another instance held the lock: it may take over."""
        return not self.lock.held and self.observer_reasons == [LOCK_HELD_ELSEWHERE]

    def took_over(self) -> None:
        """The lock is ours now (the caller acquired it): no longer an observer for that."""
        if LOCK_HELD_ELSEWHERE in self.observer_reasons:
            self.observer_reasons.remove(LOCK_HELD_ELSEWHERE)
        self.takeovers += 1

    def check_lock(self) -> None:
        """A lock lost since the last check makes this process an observer at once (blocking
        IO: the runner calls `lock.check` in a thread and hands the status to `on_lock_status`)."""
        self.on_lock_status(self.lock.held, self.lock.check())

    def on_lock_status(self, was_held: bool, status: LockStatus) -> None:
        if was_held and not status.held:
            self.lost_lock = True
            self.observe("sole-trader lock lost")
            self._alert(
                "lock_lost",
                self._instance_id,
                status.error or "lock lost",
                "stopped ordering at once; this instance is now an observer",
            )

    def heartbeat_failed(self, exc: Exception) -> None:
        """The venue did not accept an exchange heartbeat: it may cancel our resting orders."""
        self.heartbeat_failures += 1
        reason = f"exchange heartbeat failed: {exc}"
        self._heartbeat_trips.add(reason)
        trip(self._slots, reason, ordering_only=True)
        self._alert(
            "breaker_tripped",
            "venue heartbeats",
            reason,
            "new entries stopped; the venue may cancel resting orders",
        )

    def heartbeat_accepted(self, ts: int) -> None:
        """The venue accepted a heartbeat again: lift the trips failed ones caused (and only
        those: a transport error once must not stop entries for the rest of the session; what
        the venue may have cancelled meanwhile is found by the order and balance checks)."""
        for reason in self._heartbeat_trips:
            for slot in self._slots:
                lift(slot, reason, ts, "exchange heartbeat accepted again")
        self._heartbeat_trips.clear()

    def health_failed(self, url: str) -> None:
        """The health endpoint at `url` did not answer its self-check: if we cannot report,
        we do not enter."""
        self.health_failures += 1
        self.health_down = True
        trip(self._slots, HEALTH_TRIP)
        self._alert(
            "health_down",
            url,
            "the health endpoint did not answer",
            "new entries stopped until it answers again (the runner restarts it)",
        )

    def health_recovered(self, ts: int) -> None:
        """The endpoint answers again: lift the trips it caused (and only those)."""
        self.health_down = False
        for slot in self._slots:
            lift(slot, HEALTH_TRIP, ts, "health endpoint answers again")
