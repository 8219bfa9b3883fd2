"""The kernel's timers: what falls due when, in event time (there is no clock).

Listing a window schedules its open (at open_ts), its close (at close_ts), our resolution a second
after the close, and each covering strategy's first evaluation (`EntryTiming.first_due`). The
engine fires what is due after applying each event whose ts reaches it; timers due at the same ts
fire in the order they were scheduled, so a window is OPEN before a strategy due at its open is
asked.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from typing import Any

from live.kernel.domain import Window
from live.kernel.strategy import Strategy

OPEN_WINDOW, CLOSE_WINDOW, OUR_RESOLUTION, STRATEGY_DUE = "open", "close", "ours", "strategy"
OURS_AFTER_CLOSE_MS = 1_000  # our resolution needs the close second's ticks (settlement.py)


class Timers:
    """A heap of (due ts, sequence, kind, key). `heap` is exposed for the engine's per-event
    check `heap and heap[0][0] <= now` (a method call there costs throughput)."""

    __slots__ = ("heap", "_seq")

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, str, Any]] = []
        self._seq = 0

    def schedule(self, due: int, kind: str, key: Any) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (due, self._seq, kind, key))

    def window_listed(self, window: Window, strategies: Sequence[Strategy]) -> None:
        """Schedule a newly listed window's life and the first evaluation of each strategy that
        covers it (keyed `(slug, strategy)`); signal-line strategies are not timed."""
        slug = window.slug
        self.schedule(window.open_ts, OPEN_WINDOW, slug)
        self.schedule(window.close_ts, CLOSE_WINDOW, slug)
        self.schedule(window.close_ts + OURS_AFTER_CLOSE_MS, OUR_RESOLUTION, slug)
        for strategy in strategies:
            timing = strategy.timing
            if not timing.on_signal_lines and strategy.scope.covers(window):
                self.schedule(timing.first_due(window), STRATEGY_DUE, (slug, strategy))

    def pop_due(self, now: int) -> Iterator[tuple[str, Any]]:
        """(kind, key) of every timer due at or before `now`, earliest first."""
        heap = self.heap
        while heap and heap[0][0] <= now:
            _, _, kind, key = heapq.heappop(heap)
            yield kind, key
