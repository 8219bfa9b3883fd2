"""The shared state one poller writes and every browser session reads (no Panel import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import param

EMPTY = pd.DataFrame()


@dataclass(frozen=True, slots=True)
class RunnerHealth:
    """The runner's health document and where it came from.

    `source` is 'endpoint' (fetched from health_url just now), 'db' (the copy in
    instances.health, because the endpoint was unreachable or not registered) or 'none'.
    """

    document: dict[str, Any] = field(default_factory=dict)
    source: str = "none"
    url: str | None = None
    reachable: bool | None = None
    error: str | None = None
    instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the views show, read in consistent groups by the poller."""

    taken_at: datetime
    frames: dict[str, pd.DataFrame]
    health: RunnerHealth = RunnerHealth()

    def frame(self, name: str) -> pd.DataFrame:
        """The named read-model frame (empty if the poller has not produced it)."""
        return self.frames.get(name, EMPTY)

    def control(self, key: str, default: str = "") -> str:
        controls = self.frame("controls")
        if controls.empty:
            return default
        match = controls.loc[controls["key"] == key, "value"]
        return str(match.iloc[0]) if len(match) else default

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(taken_at=datetime.now(UTC), frames={})


class CockpitState(param.Parameterized):
    """Process-wide state: the latest snapshot plus a version sessions compare against."""

    snapshot = param.ClassSelector(class_=Snapshot, default=Snapshot.empty(), doc="Latest read")
    version = param.Integer(default=0, doc="Incremented on every publish")
    events_version = param.Integer(default=0, doc="Incremented when trading records changed")
    error = param.String(default="", doc="Last poller error ('' when healthy)")
    last_ok = param.Date(default=None, allow_None=True, doc="When the poller last read the DB")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._derived: list = []

    def derive(self, refresh, *, events_only: bool = False) -> None:
        """Register a shared model's `refresh`; it runs after each publish (or only when trading
        records changed, if `events_only`), before the version bump."""
        self._derived.append((refresh, events_only))
        refresh()

    def publish(self, snapshot: Snapshot, *, events_changed: bool) -> None:
        """Replace the snapshot and refresh shared models (called only by the poller thread)."""
        self.snapshot = snapshot
        for refresh, events_only in self._derived:
            if events_changed or not events_only:
                refresh()
        self.param.update(
            version=self.version + 1,
            events_version=self.events_version + (1 if events_changed else 0),
            error="",
            last_ok=snapshot.taken_at,
        )

    def fail(self, message: str) -> None:
        self.param.update(error=message, version=self.version + 1)
