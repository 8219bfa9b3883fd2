"""Clock offset against the venue, to the precision the venue allows (FM2).

The CLOB's `GET /time` answers whole seconds, truncated (py-clob-client `get_server_time`; the
sandbox answers the same way). One reading therefore only says the venue's clock was in
`[s, s + 1 s)` at some instant between our send and our receive, so a single sample's offset is
uncertain by about a second. Each sample bounds the offset (venue − ours, ms):

    s·1000 − received  ≤  offset  ≤  s·1000 + resolution − sent

and the bounds of several samples intersect. A burst aims each next sample at the instant our
clock, corrected by the current midpoint, crosses a venue second boundary (a bisection), so each
one halves the interval until it is about one round trip wide. The estimate is the midpoint and
the uncertainty the half-width: the dashboard paints the offset red only when it exceeds its
threshold by more than that uncertainty.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import httpx

from live.venues.clock import ClockSample
from live.venues.errors import VenueError

log = logging.getLogger(__name__)

BURST_SAMPLES = 7  # 1 s interval halved 6 times: ~16 ms + a round trip
REFRESH_S = 30.0
EXPECTED_ERRORS = (VenueError, httpx.HTTPError, OSError, TimeoutError, ValueError)


@dataclass(frozen=True)
class ClockOffset:
    """The measured offset (venue − ours, ms), its uncertainty (± ms, the half-width of the
    interval all samples allow), how many samples agreed and when (epoch ms, our clock)."""

    offset_ms: int
    uncertainty_ms: int
    samples: int
    measured_at_ms: int

    def as_health(self) -> dict:
        return asdict(self)


def combine(samples: list[ClockSample]) -> tuple[float, float]:
    """The offset interval every sample allows. Samples that contradict the earlier ones (our
    clock stepped during the burst) restart the interval from themselves."""
    if not samples:
        raise ValueError("no clock samples")
    lo, hi = samples[0].bounds()
    for sample in samples[1:]:
        s_lo, s_hi = sample.bounds()
        if max(lo, s_lo) > min(hi, s_hi):
            lo, hi = s_lo, s_hi
        else:
            lo, hi = max(lo, s_lo), min(hi, s_hi)
    return lo, hi


def estimate(samples: list[ClockSample], now_ms: float) -> ClockOffset:
    lo, hi = combine(samples)
    return ClockOffset(
        offset_ms=round((lo + hi) / 2),
        uncertainty_ms=math.ceil((hi - lo) / 2),
        samples=len(samples),
        measured_at_ms=int(now_ms),
    )


def next_aim_ms(now_ms: float, offset_ms: float, resolution_ms: int, lead_ms: float) -> float:
    """Our wall-clock instant (epoch ms) to send the next request so that it reaches the venue
    (after `lead_ms`, half a round trip) when the venue's clock, by the current estimate, is on
    a resolution boundary; at least 50 ms from now."""
    venue_at_arrival = now_ms + 50 + lead_ms + offset_ms
    boundary = math.ceil(venue_at_arrival / resolution_ms) * resolution_ms
    return boundary - offset_ms - lead_ms


Sampler = Callable[[], Awaitable[ClockSample]]


class ClockWatch:
    """Measures the offset with `sample` (one reading of the venue's clock): one reading at
    start (`first`), then a burst every `refresh_s` in `run`; `on_offset` gets each estimate.
    Failed readings are logged and counted (`failures`), the last estimate stays."""

    def __init__(
        self,
        sample: Sampler,
        on_offset: Callable[[ClockOffset], None],
        *,
        wall_ms: Callable[[], float] = lambda: time.time() * 1000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        burst: int = BURST_SAMPLES,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self._sample, self._on_offset = sample, on_offset
        self._wall_ms, self._sleep = wall_ms, sleep
        self.burst, self.refresh_s = burst, refresh_s
        self.last: ClockOffset | None = None
        self.failures = 0
        self.last_error = ""

    async def first(self) -> ClockOffset:
        """One reading (fast; ± half the venue's resolution): what the runner starts with."""
        return self._publish([await self._sample()])

    async def measure(self) -> ClockOffset:
        """A burst of readings aimed at the venue's second boundaries; raises what `sample`
        raises (VenueError, httpx.HTTPError, …)."""
        samples = [await self._sample()]
        for _ in range(self.burst - 1):
            lo, hi = combine(samples)
            last = samples[-1]
            lead = max(0.0, (last.received_ms - last.sent_ms) / 2)
            aim = next_aim_ms(self._wall_ms(), (lo + hi) / 2, last.resolution_ms, lead)
            await self._sleep(max(0.0, aim - self._wall_ms()) / 1000)
            samples.append(await self._sample())
        return self._publish(samples)

    async def run(self) -> None:
        """A burst now and every `refresh_s`; expected failures are logged and counted."""
        while True:
            try:
                await self.measure()
            except EXPECTED_ERRORS as error:
                self.failures += 1
                self.last_error = type(error).__name__
                log.warning("clock offset measurement failed: %r", error)
            await self._sleep(self.refresh_s)

    def health(self) -> dict:
        """The `clock` block of the health document."""
        out = self.last.as_health() if self.last is not None else {"offset_ms": None}
        return {**out, "failures": self.failures, "last_error": self.last_error}

    def _publish(self, samples: list[ClockSample]) -> ClockOffset:
        self.last = estimate(samples, self._wall_ms())
        self._on_offset(self.last)
        return self.last


def venue_sampler(venue) -> Sampler:
    """A reader of `venue`'s clock: its `clock_sample()` when it has one (the Polymarket adapter,
    whole seconds), else its `clock_offset_ms()` taken as a reading of ±500 ms."""
    if hasattr(venue, "clock_sample"):
        return venue.clock_sample

    async def from_offset() -> ClockSample:
        now = time.time() * 1000
        offset = await venue.clock_offset_ms()
        return ClockSample(now, now, int(now + offset - 500), 1000)

    return from_offset
