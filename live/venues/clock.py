"""One reading of a venue's clock (what `GET /time` tells, with our send/receive instants)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClockSample:
    """One reading of the venue's clock: our wall clock (epoch ms) when the request was sent and
    when the answer arrived, the venue's reading (epoch ms) and its resolution (ms)."""

    sent_ms: float
    received_ms: float
    server_ms: int
    resolution_ms: int = 1000

    def bounds(self) -> tuple[float, float]:
        """(lowest, highest) offset in ms (venue − ours) this reading allows."""
        return self.server_ms - self.received_ms, self.server_ms + self.resolution_ms - self.sent_ms
