"""The authenticated realtime price gateway → OracleTick events.

Source: polymarket-client 0.14.0 (`polymarket/environments.py` realtime_ws_url
"wss://ws-live-v2.polymarket.com/ws"; `_internal/streams/realtime/protocol.py` and `socket.py`;
`streams/_specs.py` CryptoPriceSpec / CryptoTwapPriceSpec "authenticated USD crypto prices",
"authenticated 60-second USD crypto TWAPs"). Frames:

- control: `{"op": "authed" | "subscribed" | "unsubscribed" | "pong", "rid": ...}` (no event),
  `{"op": "error", "code": "auth_invalid" | "bad_filter" | ..., "rid", "channel"?}` (refused:
  MessageError, which the feed counts and logs);
- data: `{"v": 1, "channel": "price.crypto" | "price.crypto.twap", "seq", "ts" (epoch ms),
  "snapshot": bool, "payload": {"symbol": "btcusd", "source": "chainlink", "timestamp",
  "value", "full_accuracy_value" (exact decimal string), "window_seconds": 60 (TWAP only)}}`;
  a snapshot carries `payload.data`, a list of {timestamp, value, full_accuracy_value}.

Each point becomes an OracleTick whose source is `channel:symbol:source`, e.g.
`price.crypto.twap:btcusd:chainlink`; the runner drives the engine with the spot Chainlink
channel and records the TWAP channel (the settlement value of a twap_60s window).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from live.kernel.events import OracleTick
from live.venues.messages import MessageError, Received, asset_of_symbol

CHANNELS = ("price.crypto", "price.crypto.twap")
CONTROL_OPS = ("authed", "subscribed", "unsubscribed", "pong")


def is_realtime_pong(text: str) -> bool:
    """A keepalive answer (not data: it must not count as a fresh price for the watchdog)."""
    compact = text.replace(" ", "")
    return compact.startswith("{") and '"op":"pong"' in compact


def _point(point: Any, what: str) -> tuple[int, Decimal]:
    if not isinstance(point, dict):
        raise MessageError(f"{what} must be a JSON object")
    ts = point.get("timestamp")
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        raise MessageError(f"{what}.timestamp: not epoch ms: {ts!r}")
    exact = point.get("full_accuracy_value", point.get("value"))
    try:
        price = Decimal(str(exact))
    except InvalidOperation:
        raise MessageError(f"{what}.full_accuracy_value: not a decimal: {exact!r}") from None
    if not price.is_finite() or price <= 0:
        raise MessageError(f"{what}.full_accuracy_value: not a price: {exact!r}")
    return ts, price


def parse_realtime_price_message(message: Any, recv_ts: int) -> list[Received]:
    """One realtime gateway frame → OracleTick(s); control frames give nothing; an `error`
    frame (refused auth or subscription) raises MessageError naming its code."""
    if not isinstance(message, dict):
        raise MessageError("realtime frame must be a JSON object")
    op = message.get("op")
    if op == "error":
        raise MessageError(
            f"realtime gateway refused: {message.get('code')!r} on {message.get('channel')!r}"
        )
    if op in CONTROL_OPS:
        return []
    channel = message.get("channel")
    if message.get("v") != 1 or channel not in CHANNELS:
        return []  # another channel or protocol version: not ours
    payload = message.get("payload")
    if not isinstance(payload, dict):
        raise MessageError("realtime frame without a payload object")
    symbol, source = payload.get("symbol"), payload.get("source")
    if not isinstance(symbol, str) or not isinstance(source, str):
        raise MessageError("realtime payload needs string symbol and source")
    if channel == "price.crypto.twap" and payload.get("window_seconds") != 60:
        raise MessageError(f"TWAP window is not 60 s: {payload.get('window_seconds')!r}")
    asset = asset_of_symbol(symbol)
    if asset is None:
        return []
    if message.get("snapshot") is True:
        data = payload.get("data")
        if not isinstance(data, list):
            raise MessageError("realtime snapshot without a data list")
        points = [_point(p, f"payload.data[{i}]") for i, p in enumerate(data)]
    else:
        points = [_point(payload, "payload")]
    name = f"{channel}:{symbol.lower()}:{source}"
    return [
        Received(OracleTick(ts, asset, price, name), ts, recv_ts, "prices", str(channel))
        for ts, price in points
    ]
