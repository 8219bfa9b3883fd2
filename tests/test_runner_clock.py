"""The clock offset against a venue that answers whole seconds (live/runner/clock.py): the true
offset always lies within the reported uncertainty, and a burst narrows it to about a round trip
instead of the ±500 ms of one truncated reading."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from live.runner.clock import ClockWatch, combine
from live.venues.clock import ClockSample


class VenueClock:
    """Our wall clock (simulated, ms) and a venue clock `offset_ms` ahead, answering whole
    seconds truncated after `one_way_ms` of travel each way."""

    def __init__(self, offset_ms: float, one_way_ms: float, start_ms: float) -> None:
        self.now, self.offset, self.one_way = start_ms, offset_ms, one_way_ms

    def wall_ms(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds * 1000
        await asyncio.sleep(0)

    async def sample(self) -> ClockSample:
        sent = self.now
        self.now += self.one_way
        server_s = int((self.now + self.offset) // 1000)
        self.now += self.one_way
        return ClockSample(sent, self.now, server_s * 1000, 1000)


def measure(venue: VenueClock, burst: int):
    seen = []
    watch = ClockWatch(
        venue.sample, seen.append, wall_ms=venue.wall_ms, sleep=venue.sleep, burst=burst
    )
    result = asyncio.run(watch.measure())
    assert seen == [result] and watch.last == result
    return result


@settings(max_examples=300, deadline=None)
@given(
    offset=st.floats(-5000, 5000),
    one_way=st.floats(0, 40),
    start=st.floats(1.7e12, 1.8e12),
    burst=st.integers(1, 9),
)
def test_true_offset_is_within_the_reported_uncertainty(offset, one_way, start, burst):
    result = measure(VenueClock(offset, one_way, start), burst)
    assert abs(result.offset_ms - offset) <= result.uncertainty_ms + 1
    assert result.samples == burst


@settings(max_examples=200, deadline=None)
@given(offset=st.floats(-5000, 5000), one_way=st.floats(0, 20), start=st.floats(1.7e12, 1.8e12))
def test_a_burst_narrows_a_whole_second_reading_to_about_a_round_trip(offset, one_way, start):
    one = measure(VenueClock(offset, one_way, start), 1)
    burst = measure(VenueClock(offset, one_way, start), 7)
    assert one.uncertainty_ms >= 500  # a truncated whole second: ±500 ms at best
    assert burst.uncertainty_ms <= 2 * one_way + 1000 / 2**6 + 1


def test_a_contradicting_reading_restarts_the_interval():
    # our clock stepped 3 s between the readings: the later reading wins, not an empty interval
    early = ClockSample(1_000_000.0, 1_000_010.0, 1_000_000)
    late = ClockSample(1_003_000.0, 1_003_010.0, 1_006_000)
    lo, hi = combine([early, late])
    assert (lo, hi) == late.bounds() and lo <= hi


def test_failed_readings_are_counted_and_keep_the_last_estimate():
    venue = VenueClock(120.0, 5.0, 1.75e12)
    calls = {"n": 0}

    async def flaky() -> ClockSample:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("connection refused")
        return await venue.sample()

    watch = ClockWatch(flaky, lambda _: None, wall_ms=venue.wall_ms, sleep=venue.sleep, burst=3)
    first = asyncio.run(watch.first())

    async def one_round() -> None:
        task = asyncio.create_task(watch.run())
        while watch.failures == 0:
            await asyncio.sleep(0)
        task.cancel()

    asyncio.run(one_round())
    health = watch.health()
    assert watch.failures == 1 and health["last_error"] == "OSError"
    assert health["offset_ms"] == first.offset_ms and health["uncertainty_ms"] >= 500
