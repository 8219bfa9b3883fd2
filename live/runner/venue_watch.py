"""Venue conditions the runner alerts on once each (issue 14, docs/venue.md "Order-path
behaviours"): a matching-engine restart (the adapter's `readiness`, O2) and a clock skew beyond
`skew_alert_s` (O5). The adapter already acts on both (entries paused and resumed by itself, L2
requests signed on the venue's clock); this only tells the operator. A venue without these
attributes (PAPER / DRY_RUN simulators) is skipped."""

from __future__ import annotations

from typing import Any

from live.runner.alarms import RaiseAlert


class VenueWatch:
    """Call `check()` every slow-loop beat."""

    def __init__(self, venue: Any, raise_alert: RaiseAlert) -> None:
        self._venue = venue
        self._raise = raise_alert
        self._skew_alerted = False

    def check(self) -> None:
        readiness = getattr(self._venue, "readiness", None)
        if readiness is not None:
            text = readiness.take_alert()
            if text is not None:
                self._raise(
                    "venue_not_ready",
                    "venue",
                    text,
                    "new orders refused 'venue not ready' with backoff; resumes by itself",
                )
        skewed = bool(getattr(self._venue, "skewed", False))
        if skewed and not self._skew_alerted:
            skew = getattr(self._venue, "skew_s", 0.0)
            self._raise(
                "clock_skew",
                "venue",
                f"our clock is {skew:+.1f}s off the venue's",
                "L2 requests signed on the venue's clock beyond the threshold",
                skew_s=skew,
            )
        self._skew_alerted = skewed
