"""WebSocket feeds: the CLOB market channel, the user channel and the crypto price stream.

Uses the `websockets` package directly against the configured URLs rather than the SDK's
`subscribe()`: the recorder needs every raw frame with our receive time, the runner's watchdog
needs the data age of each socket (a socket can answer pings while data has stopped), and the
SDK's stream models drop fields the journal keeps. Each socket sends the text `PING` every
~10 s (Polymarket's keepalive; the venue answers `PONG`). A closed socket ends the iteration with
FeedClosed: reconnecting and re-reading REST after a gap is the runner's decision.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import websockets

from live.venues.messages import (
    MessageError,
    Received,
    parse_market_message,
    parse_price_message,
    parse_user_message,
)
from live.venues.realtime import is_realtime_pong, parse_realtime_price_message

log = logging.getLogger(__name__)
PRICE_TOPICS = ("crypto_prices", "crypto_prices_chainlink")


class FeedClosed(Exception):
    """The feed's socket closed (or could not open); the iteration is over."""


class FeedSocket:
    """One subscribed socket yielding parsed events. `last_data_ms` is the receive time of the
    last data frame (PONGs excluded); `bad_messages` counts frames that failed to parse (kept
    in `last_error`), never silently."""

    def __init__(
        self,
        name: str,
        url: str,
        subscribe: dict[str, Any] | list[dict[str, Any]],
        parse: Callable[[Any, int], list[Received]],
        *,
        ping_interval_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        ping_text: str = "PING",
        is_pong: Callable[[str], bool] = lambda text: text.strip().upper() == "PONG",
    ) -> None:
        self.name, self.url = name, url
        # the opening frames, sent in order (the realtime gateway: auth, then subscribe)
        self._subscribe = subscribe if isinstance(subscribe, list) else [subscribe]
        self._parse = parse
        self._ping_text, self._is_pong = ping_text, is_pong
        self.ping_interval_s = ping_interval_s
        self._clock = clock
        self.last_data_ms: int | None = None
        self.frames = 0
        self.bad_messages = 0
        self.last_error: str | None = None
        self.internal_errors = 0  # unexpected exceptions closing / pinging (logged with traceback)
        self._socket: Any = None

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def __aiter__(self) -> AsyncIterator[Received]:
        try:
            socket = await websockets.connect(self.url, ping_interval=None, max_size=2**24)
        except (OSError, websockets.WebSocketException) as exc:
            raise FeedClosed(f"{self.name}: cannot connect: {exc}") from exc
        self._socket = socket
        pinger = asyncio.create_task(self._ping(socket))
        try:
            for opening in self._subscribe:
                await socket.send(json.dumps(opening))
            async for frame in socket:
                for received in self._frame(frame):
                    yield received
        except websockets.ConnectionClosed as exc:
            raise FeedClosed(f"{self.name}: closed ({exc.code})") from exc
        finally:
            pinger.cancel()
            await self._close_quietly(socket)
        raise FeedClosed(f"{self.name}: closed")

    async def _close_quietly(self, socket: Any) -> None:
        """Close a socket that may already be gone: a closed or broken connection is expected
        (logged at debug); anything else is a bug, logged with its traceback and counted."""
        try:
            await socket.close()
        except (OSError, websockets.WebSocketException) as exc:
            log.debug("%s: close of a broken socket: %r", self.name, exc)
        except Exception:  # noqa: BLE001 - not hidden: logged with traceback and counted
            self.internal_errors += 1
            log.exception("%s: unexpected error closing the socket", self.name)

    def _frame(self, frame: str | bytes) -> list[Received]:
        text = frame.decode() if isinstance(frame, bytes) else frame
        if self._is_pong(text):
            return []
        recv = self._now_ms()
        self.frames += 1
        self.last_data_ms = recv
        try:
            return self._parse(json.loads(text), recv)
        except (json.JSONDecodeError, MessageError, ValueError, KeyError) as exc:
            self.bad_messages += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: unparsable message: %s", self.name, self.last_error)
            return []

    async def _ping(self, socket: Any) -> None:
        """Keepalive until the socket closes (the reader then ends the iteration)."""
        try:
            while True:
                await asyncio.sleep(self.ping_interval_s)
                await socket.send(self._ping_text)
        except (OSError, websockets.WebSocketException) as exc:
            log.debug("%s: keepalive stopped: %r", self.name, exc)
        except Exception:  # noqa: BLE001 - not hidden: logged with traceback and counted
            self.internal_errors += 1
            log.exception("%s: unexpected keepalive error", self.name)

    async def subscribe(self, token_ids: list[str]) -> bool:
        """Add assets to an open market socket (Polymarket's `operation: subscribe`), so new
        windows need no reconnect. False when the socket is not open (the caller reconnects)."""
        if self._socket is None:
            return False
        frame = {
            "assets_ids": list(token_ids),
            "operation": "subscribe",
            "custom_feature_enabled": True,
        }
        try:
            await self._socket.send(json.dumps(frame))
        except websockets.WebSocketException:
            return False
        return True

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()


def market_feed(
    url: str,
    token_ids: list[str],
    *,
    slug_of_condition: dict[str, str] | None = None,
    ping_interval_s: float = 10.0,
) -> FeedSocket:
    """The market channel for `token_ids` (book, price_change, last_trade_price,
    tick_size_change, market_resolved with the custom-feature flag)."""
    subscribe = {"assets_ids": list(token_ids), "type": "market", "custom_feature_enabled": True}
    slugs = slug_of_condition if slug_of_condition is not None else {}
    return FeedSocket(
        "market",
        url,
        subscribe,
        lambda message, recv: parse_market_message(message, recv, slugs),
        ping_interval_s=ping_interval_s,
    )


def user_feed(
    url: str,
    api_key: str,
    secret: str,
    passphrase: str,
    *,
    markets: list[str] | None = None,
    ping_interval_s: float = 10.0,
) -> FeedSocket:
    """The authenticated user channel (our orders and trades). The API credentials go only
    into the subscribe frame; they are never logged."""
    subscribe = {
        "auth": {"apiKey": api_key, "secret": secret, "passphrase": passphrase},
        "markets": list(markets or []),
        "type": "user",
    }
    return FeedSocket(
        "user",
        url,
        subscribe,
        lambda message, recv: parse_user_message(message, recv, api_key),
        ping_interval_s=ping_interval_s,
    )


def price_feed(
    url: str, topics: tuple[str, ...] = PRICE_TOPICS, *, ping_interval_s: float = 10.0
) -> FeedSocket:
    """The crypto price stream (Binance-sourced `crypto_prices`, `crypto_prices_chainlink`)."""
    subscribe = {
        "action": "subscribe",
        "subscriptions": [{"topic": t, "type": "*"} for t in topics],
    }
    return FeedSocket(
        "prices", url, subscribe, parse_price_message, ping_interval_s=ping_interval_s
    )


def realtime_price_feed(
    url: str,
    api_key: str,
    secret: str,
    passphrase: str,
    symbols: list[str],
    *,
    provider: str = "chainlink",
    ping_interval_s: float = 10.0,
) -> FeedSocket:
    """The authenticated realtime price gateway (the SDK's `realtime_ws_url`; protocol of
    polymarket-client 0.14.0 _internal/streams/realtime/socket.py): `op: auth` with the CLOB API
    credentials, then one `op: subscribe` for the spot channel `price.crypto` and the 60 s TWAP
    channel `price.crypto.twap` of each symbol (`btcusd`), pings `{"op":"ping"}`. The
    credentials go only into the auth frame; they are never logged."""
    subscriptions = []
    for symbol in symbols:
        subscriptions.append(
            {"channel": "price.crypto", "filter": {"symbol": symbol, "provider": provider}}
        )
        subscriptions.append(
            {
                "channel": "price.crypto.twap",
                "filter": {"symbol": symbol, "window_seconds": 60, "provider": provider},
            }
        )
    frames = [
        {
            "op": "auth",
            "auth": {"apiKey": api_key, "secret": secret, "passphrase": passphrase},
            "rid": "1",
        },
        {"op": "subscribe", "subscriptions": subscriptions, "rid": "2"},
    ]
    return FeedSocket(
        "prices",
        url,
        frames,
        parse_realtime_price_message,
        ping_interval_s=ping_interval_s,
        ping_text='{"op":"ping"}',
        is_pong=is_realtime_pong,
    )
