"""The authenticated realtime price gateway, served beside the public RTDS stream (/ws/prices)
at /ws/realtime. Protocol of polymarket-client 0.14.0 (_internal/streams/realtime/socket.py,
protocol.py): the client sends `{"op": "auth", "auth": {apiKey, secret, passphrase}, "rid"}`
(answered `authed`, or `error` code `auth_invalid`), then `{"op": "subscribe", "subscriptions":
[{"channel": "price.crypto" | "price.crypto.twap", "filter": {"symbol": "btcusd",
"window_seconds": 60, "provider"}}], "rid"}` (one `subscribed` per item; `auth_required` before
auth, `bad_channel` / `bad_filter` otherwise), and `{"op": "ping"}` (answered `pong`). Data
frames carry the same oracle price and 60 s TWAP the RTDS topics carry (sandbox/clockwork.py
_publish_prices), as exact decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# RTDS topic -> realtime channel carrying the same value
TOPIC_CHANNEL = {
    "crypto_prices_chainlink": "price.crypto",
    "crypto_prices_twap_sixty": "price.crypto.twap",
}
E18 = Decimal(10) ** 18


def key(channel: str, symbol: str) -> str:
    return f"{channel}|{symbol}"


def data_frame(topic: str, payload: dict, seq: int) -> tuple[str, dict] | None:
    """(subscription key, realtime frame) for an RTDS price publication, or None."""
    channel = TOPIC_CHANNEL.get(topic)
    if channel is None:
        return None
    symbol = str(payload["symbol"]).replace("/", "").lower()
    exact = Decimal(str(payload["full_accuracy_value"]))
    if channel == "price.crypto.twap":
        exact = exact / E18  # RTDS carries the TWAP in Chainlink's 1e18 units
    body: dict[str, Any] = {
        "symbol": symbol,
        "source": "chainlink",
        "timestamp": int(payload["timestamp"]),
        "value": float(exact),
        "full_accuracy_value": format(exact.normalize(), "f"),
    }
    if channel == "price.crypto.twap":
        body["window_seconds"] = 60
    frame = {
        "v": 1,
        "channel": channel,
        "seq": seq,
        "ts": int(payload["timestamp"]),
        "snapshot": False,
        "payload": body,
    }
    return key(channel, symbol), frame


def control(frame: dict, authed: bool, creds_ok) -> tuple[bool, list[dict], set[str], set[str]]:
    """Answer one client frame: (authed now, replies, keys added, keys removed). `creds_ok`
    checks an auth object against the sandbox's API keys."""
    op, rid = frame.get("op"), str(frame.get("rid", ""))
    if op == "ping":
        return authed, [{"op": "pong", "rid": rid}], set(), set()
    if op == "auth":
        if creds_ok(frame.get("auth")):
            return True, [{"op": "authed", "rid": rid}], set(), set()
        return False, [{"op": "error", "code": "auth_invalid", "rid": rid}], set(), set()
    if op not in ("subscribe", "unsubscribe"):
        return authed, [{"op": "error", "code": "bad_op", "rid": rid}], set(), set()
    items = frame.get("subscriptions")
    if not authed:
        return authed, [{"op": "error", "code": "auth_required", "rid": rid}], set(), set()
    replies, keys = [], set()
    for item in items if isinstance(items, list) else []:
        channel = item.get("channel") if isinstance(item, dict) else None
        flt = item.get("filter") if isinstance(item, dict) else None
        if channel not in TOPIC_CHANNEL.values():
            replies.append({"op": "error", "code": "bad_channel", "rid": rid, "channel": channel})
            continue
        symbol = flt.get("symbol") if isinstance(flt, dict) else None
        twap_ok = channel != "price.crypto.twap" or flt.get("window_seconds") == 60
        if not isinstance(symbol, str) or not twap_ok:
            replies.append({"op": "error", "code": "bad_filter", "rid": rid, "channel": channel})
            continue
        keys.add(key(channel, symbol.lower()))
        replies.append({"op": f"{op}d", "rid": rid, "channel": channel})
    if op == "subscribe":
        return authed, replies, keys, set()
    return authed, replies, set(), keys
