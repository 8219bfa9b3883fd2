"""Feed supervision: the market channel, the oracle price stream and the user channel, each
message (1) timestamped and journalled by the recorder, (2) counted by the per-asset watchdog and
(3) handed to the engine. A feed silent for 5 s while its socket is open opens a gap (feed red,
no entries on that asset), then the socket is reconnected and the books re-read over REST.
Reconnects back off exponentially with full jitter up to a cap (ReconnectBackoff): a venue outage
is not hammered once a second. A `tick_size_change` reaches the engine at once (TickSize)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from live.journal.codec import to_dict
from live.kernel.events import BookDelta, BookSnapshot, OracleTick, Resolved, Timer, Trade
from live.runner.recorder import RecordedMessage, Recorder
from live.runner.watchdog import FeedWatchdog
from live.venues.errors import VenueQueryError
from live.venues.messages import MessageError, Received, TickSizeChange
from live.venues.port import Venue
from live.venues.streams import FeedClosed, FeedSocket

log = logging.getLogger(__name__)
ENGINE_EVENTS = (BookSnapshot, BookDelta, Trade, OracleTick, Resolved)


@dataclass
class ReconnectBackoff:
    """Delay before reconnect n (n = failures in a row): uniform in [d/2, d] with
    d = min(cap_s, base_s * 2**n) ("equal jitter"), so a fleet of clients spreads out and an
    outage is retried at most every `cap_s`. `reset()` after a connection that delivered data.
    `rng` is injectable so the schedule is reproducible in tests."""

    base_s: float = 0.5
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures, 30))
        self.failures += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


def feed_name(channel: str, asset: str) -> str:
    return f"{channel}:{asset}"


class FeedSupervisor:
    """Owns the sockets. `asset_of_token` maps a token to its asset (from discovered windows)."""

    def __init__(
        self,
        venue: Venue,
        emit: Callable[[Any], None],
        watchdog: FeedWatchdog,
        recorder: Recorder,
        assets: tuple[str, ...],
        asset_of_token: Callable[[str], str | None],
        tokens: Callable[[], list[str]],
        on_tick_size: Callable[[str, Decimal, int], Any] | None = None,
    ) -> None:
        self._venue = venue
        self._emit = emit
        self._watchdog = watchdog
        self._recorder = recorder
        self._assets = assets
        self._asset_of_token = asset_of_token
        self._tokens = tokens
        self._on_tick_size = on_tick_size
        self._sockets: dict[str, FeedSocket] = {}
        self._subscribed: list[str] = []
        self._frame_ts: int | None = None
        self.reconnects: dict[str, int] = {"market": 0, "prices": 0, "user": 0}
        self.backoff = {name: ReconnectBackoff() for name in self.reconnects}
        self.sleep = asyncio.sleep  # replaceable by a test that records the back-off delays
        self.snapshots = 0  # REST books read after a reconnect
        self.snapshot_failures = 0  # REST books that could not be read (logged)
        for asset in assets:
            watchdog.register(feed_name("prices", asset), asset)

    # ------------------------------------------------------------------ socket loops

    async def run_market(self) -> None:
        while True:
            tokens = self._tokens()
            if not tokens:
                await asyncio.sleep(0.5)
                continue
            self._subscribed = tokens
            for asset in {self._asset_of_token(t) for t in tokens} - {None}:
                self._watchdog.register(feed_name("market", asset), asset)
            socket = self._venue.market_feed(tokens)
            await self._pump("market", socket)
            await self.rest_snapshot(self._tokens())

    async def run_prices(self) -> None:
        while True:
            await self._pump("prices", self._venue.price_feed(self._assets))

    async def run_user(self) -> None:
        """The user channel feeds the adapter's confirmation loop; we journal every message."""
        while True:
            frames = 0

            def on_event(received: Received) -> None:
                nonlocal frames
                frames += 1
                self._recorder.add(_recorded("user", received, None))

            try:
                await self._venue.run_user_stream(on_event=on_event)
            except FeedClosed as exc:
                log.warning("user feed closed: %s", exc)
            self.reconnects["user"] += 1
            await self._back_off("user", delivered=frames > 0)

    async def _pump(self, channel: str, socket: FeedSocket) -> None:
        self._sockets[channel] = socket
        delivered = False
        try:
            async for received in socket:
                delivered = True
                self._on_message(channel, received)
        except FeedClosed as exc:
            log.warning("%s feed closed: %s", channel, exc)
        finally:
            self._sockets.pop(channel, None)
            self.reconnects[channel] += 1
        await self._back_off(channel, delivered)

    async def _back_off(self, channel: str, delivered: bool) -> None:
        """Wait before reconnecting: short after a connection that carried data, growing with
        each connection in a row that carried none (refused, or closed at once)."""
        backoff = self.backoff[channel]
        if delivered:
            backoff.reset()
        delay = backoff.next_delay()
        log.info("%s feed: reconnect %d in %.2f s", channel, backoff.failures, delay)
        await self.sleep(delay)

    async def subscribe_new_tokens(self) -> None:
        """New windows bring new tokens: add them to the open market socket (no gap in the
        data); reconnect with the full list only if the socket cannot take them."""
        new = sorted(set(self._tokens()) - set(self._subscribed))
        if not new:
            return
        socket = self._sockets.get("market")
        if socket is not None and await socket.subscribe(new):
            self._subscribed = sorted(set(self._subscribed) | set(new))
            for asset in {self._asset_of_token(t) for t in new} - {None}:
                self._watchdog.register(feed_name("market", asset), asset)
        else:
            self.reconnect("market")

    def reconnect(self, channel: str) -> None:
        socket = self._sockets.get(channel)
        if socket is not None:
            asyncio.get_running_loop().create_task(socket.close())

    # ------------------------------------------------------------------ messages

    def _on_message(self, channel: str, received: Received) -> None:
        event = received.event
        asset = self._asset(event)
        if channel != "user" and asset is not None:
            self._watchdog.data(feed_name(channel, asset))
        self._recorder.add(_recorded(channel, received, asset))
        if channel == "prices" and not _is_oracle(event):
            return  # only the settlement oracle drives the engine's tape
        if isinstance(event, TickSizeChange):
            if self._on_tick_size is not None:  # the window tracker re-lists the window
                self._on_tick_size(event.token_id, event.new_tick, event.ts)
            return
        if isinstance(event, ENGINE_EVENTS):
            if channel == "market" and event.ts != self._frame_ts:
                # One venue message can carry many book changes with one timestamp: move time
                # to it first, so timers due by then fire on the whole previous book and never
                # between two changes of the same message (a half-applied book).
                self._frame_ts = event.ts
                self._emit(Timer(event.ts))
            self._emit(event)

    def _asset(self, event: Any) -> str | None:
        asset = getattr(event, "asset", None)
        if asset is not None:
            return str(asset)
        token = getattr(event, "token_id", None)
        return None if token is None else self._asset_of_token(token)

    async def rest_snapshot(self, tokens: list[str]) -> int:
        """Fresh books over REST after a gap or reconnect (the socket may have missed deltas);
        a book that cannot be read is logged, counted in `snapshot_failures` and left to the
        socket (whose subscribe answer is a full book). Returns the books read."""
        count = 0
        for token in tokens:
            try:
                book = await self._venue.order_book(token)
            except (VenueQueryError, MessageError) as exc:
                self.snapshot_failures += 1
                log.warning("REST book of %s after reconnect not read: %s", token, exc)
                continue
            except Exception:  # noqa: BLE001 - a bug: logged with traceback, counted, not hidden
                self.snapshot_failures += 1
                log.exception("REST book of %s after reconnect: unexpected error", token)
                continue
            self._emit(book)
            count += 1
        self.snapshots += count
        return count

    def stats(self) -> dict[str, Any]:
        return {
            "reconnects": dict(self.reconnects),
            "subscribed_tokens": len(self._subscribed),
            "snapshots": self.snapshots,
            "snapshot_failures": self.snapshot_failures,
        }


def _is_oracle(event: Any) -> bool:
    """The spot Chainlink price drives the engine's tape (its own TWAP over it decides a
    twap_60s window); the venue's TWAP channel (`price.crypto.twap:...`, `crypto_prices_twap_*`)
    is recorded for comparison, never fed in as a spot price."""
    source = event.source or "chainlink" if isinstance(event, OracleTick) else ""
    return "chainlink" in source and "twap" not in source


def _payload(event: Any) -> dict[str, Any]:
    """The journal form of an event, or a plain form for venue-only messages."""
    try:
        return to_dict(event)
    except (KeyError, TypeError, AttributeError):
        names = getattr(event, "__dataclass_fields__", None) or getattr(event, "_fields", ())
        return {name: _plain(getattr(event, name, None)) for name in names}


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _recorded(channel: str, received: Received, asset: str | None) -> RecordedMessage:
    payload = _payload(received.event)
    body = json.dumps(payload, sort_keys=True, default=str)
    key = hashlib.blake2b(f"{received.source_ts}|{body}".encode(), digest_size=12).hexdigest()
    return RecordedMessage(
        ts_ms=received.source_ts,
        recv_ms=received.recv_ts,
        source=channel,
        kind=received.kind,
        payload=payload,
        dedup_key=key,
        asset=asset,
        slug=payload.get("slug"),
        token_id=payload.get("token_id"),
    )
