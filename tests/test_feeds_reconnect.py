"""Issue 14, feeds row: reconnects back off exponentially with jitter up to a cap (no fixed 1 s
that would hammer the venue through an outage) and start over after a connection that carried
data. Real sockets: a refused port, and the sandbox's market channel. Also the realtime price
frames and the stale-tick price rule as properties."""

from __future__ import annotations

import asyncio
import random
import socket
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live.runner.feeds import FeedSupervisor, ReconnectBackoff
from live.venues.messages import MessageError
from live.venues.realtime import is_realtime_pong, parse_realtime_price_message
from live.venues.streams import FeedSocket, price_feed
from live.venues.ticks import coarse_worst_price, is_tick_refusal


@given(
    seed=st.integers(0, 2**32), base=st.floats(0.01, 2), cap=st.floats(2, 120), n=st.integers(1, 40)
)
def test_backoff_delays_stay_in_the_jittered_exponential_envelope_under_the_cap(seed, base, cap, n):
    backoff = ReconnectBackoff(base_s=base, cap_s=cap, rng=random.Random(seed))
    for attempt in range(n):
        ceiling = min(cap, base * 2**attempt)
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert base / 2 <= backoff.next_delay() <= base


def _refused_url() -> str:
    with socket.socket() as s:  # a port nobody listens on: every connect is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"ws://127.0.0.1:{port}/ws/prices"


class _Venue:
    """Only the price feed of a venue, at a URL that refuses every connection."""

    def __init__(self, url: str) -> None:
        self.url = url

    def price_feed(self, assets=()) -> FeedSocket:
        return price_feed(self.url)


def test_a_refusing_feed_is_retried_with_growing_delays_not_every_second():
    feeds = FeedSupervisor(_Venue(_refused_url()), [].append, _Watchdog(), None, (), str, list)
    feeds.backoff["prices"] = ReconnectBackoff(base_s=0.5, cap_s=8, rng=random.Random(7))
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 7:
            raise asyncio.CancelledError

    feeds.sleep = record
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(feeds.run_prices())
    assert feeds.reconnects["prices"] == 7
    ceilings = [min(8, 0.5 * 2**i) for i in range(7)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert delays[-1] >= 4  # the cap's half: an outage is retried every 4-8 s, not every 1 s


class _Watchdog:
    def register(self, *args) -> None:
        return None


def test_realtime_frames_control_data_snapshot_and_refusals():
    assert parse_realtime_price_message({"op": "authed", "rid": "1"}, 5) == []
    assert is_realtime_pong('{"op": "pong", "rid": "9"}') and not is_realtime_pong("PONG")
    point = {"timestamp": 1_750_000_000_000, "value": 1.5, "full_accuracy_value": "104000.125"}
    frame = {
        "v": 1, "channel": "price.crypto.twap", "seq": 3, "ts": point["timestamp"],
        "snapshot": False,
        "payload": {"symbol": "btcusd", "source": "chainlink", "window_seconds": 60, **point},
    }  # fmt: skip
    (received,) = parse_realtime_price_message(frame, 5)
    tick = received.event
    assert tick.price == Decimal(point["full_accuracy_value"]) and tick.ts == point["timestamp"]
    assert tick.source == "price.crypto.twap:btcusd:chainlink" and received.recv_ts == 5
    snapshot = {**frame, "snapshot": True, "payload": {**frame["payload"], "data": [point] * 3}}
    assert len(parse_realtime_price_message(snapshot, 5)) == 3
    with pytest.raises(MessageError, match="auth_invalid"):
        parse_realtime_price_message({"op": "error", "code": "auth_invalid", "rid": "1"}, 5)
    thirty = {**frame, "payload": {**frame["payload"], "window_seconds": 30}}
    with pytest.raises(MessageError, match="60 s"):
        parse_realtime_price_message(thirty, 5)


@given(
    side=st.sampled_from(["BUY", "SELL"]),
    price=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.999"), places=3),
)
def test_a_stale_tick_resign_price_is_valid_at_both_ticks_and_never_worse(side, price):
    coarse = coarse_worst_price(side, price)
    for tick in (Decimal("0.01"), Decimal("0.001")):
        assert tick <= coarse <= 1 - tick and coarse % tick == 0
    inside = min(max(price, Decimal("0.01")), Decimal("0.99"))
    # a BUY pays at most its bound, a SELL takes at least its bound (within the valid range)
    assert coarse <= inside if side == "BUY" else coarse >= inside


def test_tick_refusals_are_recognised_in_the_sdk_and_venue_wording():
    assert is_tick_refusal(
        "max_price must conform to tick size 0.01 with at most 2 decimal places."
    )
    assert is_tick_refusal(
        "order 0x1 is invalid. Price (0.013) breaks minimum tick size rule: 0.01"
    )
    assert not is_tick_refusal("not enough balance / allowance")
