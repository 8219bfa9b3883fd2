"""What recorded data covers: feed gaps (FM1, FM13) and the loader's verdict on each window.

Shared by the loader (research.data), the window filter (research.filtering) and the DB store
(research.store); it imports nothing from the project, so their dependencies point one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAP_MS = 5_000  # FM1: five seconds without data is a gap (the runner's watchdog uses the same)


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of more than GAP_MS without data on one feed (`oracle:BTC`, `clob:<slug>`).

    `start_ms` / `end_ms` are epoch ms; `reason` says what was missing, for reports.
    """

    feed: str
    start_ms: int
    end_ms: int
    reason: str


@dataclass(slots=True)
class WindowInfo:
    """One window of the range and what the loader decided about it (times in epoch ms)."""

    slug: str
    asset: str
    length_s: int
    open_ts: int
    close_ts: int
    status: str = "used"  # used | tainted | excluded
    reasons: list[str] = field(default_factory=list)
    clob_rows: int = 0
    resolution: str | None = None  # venue | book | None
    winner: str | None = None
