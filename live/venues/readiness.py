"""Venue readiness: the matching engine's restart (issue 14, docs/venue.md "Order-path
behaviours", O2). While Polymarket restarts its matching engine the CLOB answers HTTP 425 on
order posts and cancels (about 90 s, weekly and after incidents), cancels every open order, and
then takes only post-only orders for a short while. An order every attempt of which was answered
425 / 429 was never processed: it is REJECTED "venue not ready", never UNKNOWN. After a 425 the
venue is "restarting": new orders are refused locally (no request) for a pause that doubles up
to `max_s`; the first order after the pause probes the venue again, and an accepted answer ends
the restart. `take_alert()` hands the runner one alert text per restart episode."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
NOT_READY = "venue not ready"
POST_ONLY_TEXT = "post-only"


@dataclass
class Readiness:
    """The venue's restart state as our requests saw it (monotonic seconds)."""

    base_s: float = 2.0
    max_s: float = 90.0
    clock: Callable[[], float] = time.monotonic
    restarting: bool = False
    since: float | None = None
    paused_until: float = 0.0
    episodes: int = 0
    not_ready_answers: int = 0
    local_refusals: int = 0
    _pause_s: float = 0.0
    _alert: str | None = field(default=None, repr=False)

    def not_ready(self, detail: str) -> None:
        """A request was answered 425 (or refused as post-only): the venue is restarting."""
        now = self.clock()
        self.not_ready_answers += 1
        if not self.restarting:
            self.restarting, self.since, self.episodes = True, now, self.episodes + 1
            self._pause_s = self.base_s
            self._alert = f"matching engine restarting ({detail}); entries paused"
            log.warning("venue restarting: %s", detail)
        else:
            self._pause_s = min(self.max_s, self._pause_s * 2)
        self.paused_until = now + self._pause_s

    def ready(self) -> None:
        """A post or cancel was processed: the restart is over."""
        if self.restarting:
            log.warning("venue ready again after %.1fs", self.clock() - (self.since or 0.0))
        self.restarting, self.since, self._pause_s, self.paused_until = False, None, 0.0, 0.0

    def refusal(self) -> str | None:
        """The local refusal reason while paused, else None (send the order)."""
        if self.restarting and self.clock() < self.paused_until:
            self.local_refusals += 1
            left = self.paused_until - self.clock()
            return f"{NOT_READY}: matching engine restarting, next try in {left:.1f}s"
        return None

    def take_alert(self) -> str | None:
        """The restart's alert text, once per episode (None otherwise)."""
        alert, self._alert = self._alert, None
        return alert


def is_not_ready(status: int | None, text: str) -> bool:
    """Whether a refusal means "the engine is restarting": HTTP 425, or the post-only period's
    refusal of a marketable order."""
    return status == 425 or POST_ONLY_TEXT in text.lower()
