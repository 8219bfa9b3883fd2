"""Per-feed data-age watchdog (FM1): a socket can stay open, pings answered, while data has
stopped. Age is measured from the last *data* message; 5 s of silence opens a gap (recorded in
`feed_gaps`), turns the feed red and asks for a reconnect plus a fresh REST snapshot. The gap is
closed when data returns. Pure logic; the clock is injected and IO goes through callbacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

GREEN_S = 2.0
YELLOW_S = 5.0
IDLE_GAP_S = 5.0


@dataclass
class FeedState:
    name: str
    asset: str | None
    last_data: float | None = None
    gap_open_since: float | None = None
    gaps: int = 0
    messages: int = 0
    window_start: float = 0.0
    window_count: int = 0
    rate_per_s: float = 0.0


class FeedWatchdog:
    """Tracks every feed; `check(now)` opens/closes gaps and returns the feeds needing a
    reconnect. `on_gap_open(feed, start)` / `on_gap_close(feed, end)` persist the gap."""

    def __init__(
        self,
        clock: Callable[[], float],
        on_gap_open: Callable[[FeedState, float], None],
        on_gap_close: Callable[[FeedState, float], None],
        idle_gap_s: float = IDLE_GAP_S,
    ) -> None:
        self._clock = clock
        self._open = on_gap_open
        self._close = on_gap_close
        self.idle_gap_s = idle_gap_s
        self.feeds: dict[str, FeedState] = {}

    def register(self, name: str, asset: str | None = None) -> FeedState:
        now = self._clock()
        feed = self.feeds.setdefault(name, FeedState(name, asset, window_start=now))
        if feed.last_data is None:
            feed.last_data = now  # the silence clock starts at subscription
        return feed

    def data(self, name: str) -> None:
        """A data message arrived on `name` (pings and pongs do not count)."""
        now = self._clock()
        feed = self.feeds.get(name) or self.register(name)
        feed.last_data = now
        feed.messages += 1
        feed.window_count += 1
        if now - feed.window_start >= 1.0:
            feed.rate_per_s = feed.window_count / (now - feed.window_start)
            feed.window_start, feed.window_count = now, 0
        if feed.gap_open_since is not None:
            feed.gap_open_since = None
            self._close(feed, now)

    def age(self, name: str) -> float | None:
        feed = self.feeds.get(name)
        if feed is None or feed.last_data is None:
            return None
        return self._clock() - feed.last_data

    def status(self, name: str) -> str:
        age = self.age(name)
        if age is None or age >= YELLOW_S:
            return "red"
        return "green" if age < GREEN_S else "yellow"

    def is_fresh(self, name: str) -> bool:
        feed = self.feeds.get(name)
        return feed is not None and feed.gap_open_since is None and self.status(name) != "red"

    def check(self) -> list[FeedState]:
        """Open gaps for feeds silent ≥ idle_gap_s; return feeds that need a reconnect."""
        now = self._clock()
        stale = []
        for feed in self.feeds.values():
            silent = now - (feed.last_data or now)
            if silent >= self.idle_gap_s and feed.gap_open_since is None:
                feed.gap_open_since = feed.last_data or now
                feed.gaps += 1
                self._open(feed, feed.gap_open_since)
                stale.append(feed)
        return stale

    def snapshot(self) -> dict[str, dict]:
        return {
            name: {
                "last_message_age_s": None if self.age(name) is None else round(self.age(name), 3),
                "status": self.status(name),
                "gap_open": feed.gap_open_since is not None,
                "gaps": feed.gaps,
                "messages": feed.messages,
                "rate_per_s": round(feed.rate_per_s, 2),
            }
            for name, feed in self.feeds.items()
        }
