"""Recorded Polymarket messages (market and user WebSocket channels, RTDS crypto prices, and the
HTTP Gamma market / CLOB book / CLOB market / Data-API trades responses) → journal events.

INPUT is a file holding one JSON message, a JSON array of messages, or JSON lines, or a directory
of such files (`*.json`, `*.jsonl`, optionally `.gz`). Book levels arrive in no particular order
and are sorted best-first here. The SDK-era book carries min_order_size / tick_size / neg_risk,
the 2024 recording does not: both are accepted. Messages without a journal equivalent (user
`order` events and CLOB `tick_size_change`, which the runner handles; a CLOB market that is not
an Up/Down market) are recognised, validated and counted in `skipped`, never silently dropped.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from live.convert import gamma
from live.convert.common import (
    ConvertError,
    Event,
    FieldError,
    decimal_str,
    int_ms,
    sort_events,
)

SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
_BOOK_SIDE = {"BUY": "bid", "SELL": "ask"}


@dataclass
class WsResult:
    """Converted events and the count of recognised messages that have no journal kind."""

    events: list[Event]
    skipped: Counter[str] = field(default_factory=Counter)


def convert(path: Path, *, fee_rate: str | None = None) -> WsResult:
    """Every message under `path` converted; raises ConvertError naming file, line and field."""
    result = WsResult(events=[])
    options = gamma.GammaOptions(fee_rate=fee_rate)
    for source, line, message in _messages(Path(path)):
        try:
            result.events.extend(_convert_message(message, options, result.skipped))
        except FieldError as exc:
            raise ConvertError(source, line, exc.field, str(exc)) from None
        except ConvertError as exc:
            raise ConvertError(source, line, exc.field, exc.message) from None
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # a shape no field check foresaw: refused at its line, never a traceback
            raise ConvertError(source, line, "(message)", f"malformed message ({exc!r})") from None
    result.events = sort_events(result.events)
    return result


# ------------------------------------------------------------------ reading


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.name.endswith(SUFFIXES))
    return [path]


def _messages(path: Path) -> Iterator[tuple[Path, int, Any]]:
    """(file, line, message); line is 0 for messages of a whole-file JSON document."""
    for file in _files(path):
        opener = gzip.open if file.name.endswith(".gz") else open
        with opener(file, "rt", encoding="utf-8") as stream:
            text = stream.read()
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            yield from _json_lines(file, text)
            continue
        for item in document if isinstance(document, list) else [document]:
            yield file, 0, item


def _json_lines(file: Path, text: str) -> Iterator[tuple[Path, int, Any]]:
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConvertError(file, line_no, "(json)", f"invalid JSON: {exc.msg}") from None
        for item in document if isinstance(document, list) else [document]:
            yield file, line_no, item


# ------------------------------------------------------------------ dispatch


def _convert_message(message: Any, options: gamma.GammaOptions, skipped: Counter) -> list[Event]:
    if not isinstance(message, dict):
        raise FieldError("(message)", f"expected a JSON object, got {type(message).__name__}")
    if isinstance(message.get("data"), list) and "next_cursor" in message:
        return _page(message, options, skipped)  # a paginated REST answer {data, next_cursor}
    event_type = message.get("event_type")
    if isinstance(event_type, str) and event_type in _WS_HANDLERS:
        return _WS_HANDLERS[event_type](message, skipped)
    if message.get("topic") in ("crypto_prices", "crypto_prices_chainlink"):
        return [_crypto_price(message)]
    if "clobTokenIds" in message and "conditionId" in message:
        return _gamma_market(message, options, skipped)
    if isinstance(message.get("markets"), list) and "slug" in message:
        return _gamma_event(message, options, skipped)
    if "taker_order_id" in message and "match_time" in message:
        return [_clob_trade(message)]
    if "bids" in message and "asks" in message and "asset_id" in message:
        return [_book(message)]
    if "tokens" in message and "condition_id" in message:
        return _clob_market(message, skipped)
    if "proxyWallet" in message and "asset" in message:
        return [_data_api_trade(message)]
    raise FieldError("event_type", f"unrecognised message (keys: {sorted(message)[:8]})")


def _book(message: dict) -> Event:
    bids = _levels(message, "bids")
    asks = _levels(message, "asks")
    bids.sort(key=lambda level: -float(level[0]))
    asks.sort(key=lambda level: float(level[0]))
    return {
        "ts": _ms(message, "timestamp"),
        "kind": "book",
        "token_id": _text(message, "asset_id"),
        "bids": bids,
        "asks": asks,
    }


def _price_change(message: dict, skipped: Counter) -> list[Event]:
    """2024 single level, mid-2025 top-level `asset_id` + `changes[]`, current `price_changes[]`
    (see live/venues/messages.py for the sources)."""
    ts = _ms(message, "timestamp")
    for key in ("price_changes", "changes"):
        if message.get(key) is None:
            continue
        changes = message[key]
        if not isinstance(changes, list):
            raise FieldError(key, "expected a list")
        if key == "changes":  # mid-2025: one asset per message, its id at the top
            token = _text(message, "asset_id")
            changes = [{**c, "asset_id": token} if isinstance(c, dict) else c for c in changes]
        return [_delta(ts, change, f"{key}[{i}].") for i, change in enumerate(changes)]
    return [_delta(ts, message, "")]


def _delta(ts: int, change: Any, prefix: str) -> Event:
    if not isinstance(change, dict):
        raise FieldError(prefix.rstrip(".") or "(message)", "expected a JSON object")
    side = change.get("side")
    if not isinstance(side, str) or side not in _BOOK_SIDE:
        raise FieldError(prefix + "side", f"expected BUY or SELL, got {side!r}")
    return {
        "ts": ts,
        "kind": "book_delta",
        "token_id": _text(change, "asset_id", prefix),
        "side": _BOOK_SIDE[side],
        "price": _decimal(change, "price", prefix),
        "size": _decimal(change, "size", prefix),
    }


def _last_trade(message: dict, skipped: Counter) -> list[Event]:
    return [_trade(_ms(message, "timestamp"), message, "asset_id")]


def _user_trade(message: dict, skipped: Counter) -> list[Event]:
    """A user-channel trade is also a public print; our own fills come from the executor."""
    return [_trade(_ms(message, "timestamp"), message, "asset_id")]


def _trade(ts: int, message: dict, token_key: str) -> Event:
    side = str(message.get("side", "")).upper()
    if side not in _BOOK_SIDE:
        raise FieldError("side", f"expected BUY or SELL, got {message.get('side')!r}")
    return {
        "ts": ts,
        "kind": "trade",
        "token_id": _text(message, token_key),
        "price": _decimal(message, "price"),
        "size": _decimal(message, "size"),
        "side": side,
    }


def _data_api_trade(message: dict) -> Event:
    seconds = message.get("timestamp")
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise FieldError("timestamp", f"expected epoch seconds, got {seconds!r}")
    return _trade(seconds * 1000, message, "asset")


def _clob_trade(message: dict) -> Event:
    """A CLOB `/data/trades` record (no `event_type`; `match_time` in epoch seconds, source:
    the SDK's ClobTrade model, polymarket/models/clob/account.py) as a public print."""
    seconds = message.get("match_time")
    if isinstance(seconds, bool) or not str(seconds).isdigit():
        raise FieldError("match_time", f"expected epoch seconds, got {seconds!r}")
    return _trade(int(seconds) * 1000, message, "asset_id")


def _page(message: dict, options: gamma.GammaOptions, skipped: Counter) -> list[Event]:
    """A paginated REST answer: each item of `data` converted on its own."""
    events: list[Event] = []
    for i, item in enumerate(message["data"]):
        try:
            events.extend(_convert_message(item, options, skipped))
        except FieldError as exc:
            raise FieldError(f"data[{i}].{exc.field}", str(exc)) from None
    return events


def _gamma_market(market: dict, options: gamma.GammaOptions, skipped: Counter) -> list[Event]:
    """A Gamma market: its window events, or counted in `skipped` if it is no Up/Down window."""
    if not gamma.is_updown_window(market):
        skipped["gamma_market (not an Up/Down window)"] += 1
        return []
    return gamma.record_events(market, path="", line=0, options=options)


def _gamma_event(event: dict, options: gamma.GammaOptions, skipped: Counter) -> list[Event]:
    """A Gamma event wrapping its markets (`/events`): each market on its own."""
    events: list[Event] = []
    for i, market in enumerate(event["markets"]):
        if not isinstance(market, dict):
            raise FieldError(f"markets[{i}]", "expected a JSON object")
        events.extend(_gamma_market(market, options, skipped))
    return events


def _validated_skip(required: tuple[str, ...], name: str):
    def handler(message: dict, skipped: Counter) -> list[Event]:
        for key in required:
            _text(message, key)
        _ms(message, "timestamp")
        skipped[name] += 1
        return []

    return handler


_WS_HANDLERS = {
    "book": lambda message, skipped: [_book(message)],
    "price_change": _price_change,
    "last_trade_price": _last_trade,
    "trade": _user_trade,
    "tick_size_change": _validated_skip(("asset_id", "new_tick_size"), "tick_size_change"),
    "order": _validated_skip(("id", "asset_id", "type"), "order"),
    # custom-feature market events (docs.polymarket.com market channel): no journal kind
    "best_bid_ask": _validated_skip(("asset_id",), "best_bid_ask"),
    "new_market": _validated_skip(("market",), "new_market"),
    "market_resolved": _validated_skip(("market",), "market_resolved"),
}


def _crypto_price(message: dict) -> Event:
    payload = message.get("payload")
    if not isinstance(payload, dict):
        raise FieldError("payload", "expected a JSON object")
    symbol = _text(payload, "symbol", "payload.").lower()
    asset = symbol.replace("/", "").removesuffix("usdt").removesuffix("usd").upper()
    price_key = "full_accuracy_value" if payload.get("full_accuracy_value") else "value"
    event: Event = {
        "ts": _ms(payload, "timestamp", "payload."),
        "kind": "oracle",
        "asset": asset,
        "price": _decimal(payload, price_key, "payload."),
        "source": f"{message['topic']}:{symbol}",
    }
    if message.get("timestamp") is not None:
        event["recv_ts"] = _ms(message, "timestamp")
    return event


def _clob_market(message: dict, skipped: Counter) -> list[Event]:
    """A CLOB market: a `resolved` event for a decided Up/Down market, else nothing."""
    _text(message, "condition_id")
    tokens = message.get("tokens")
    if not isinstance(tokens, list) or not tokens:
        raise FieldError("tokens", "expected a non-empty list")
    labels = {str(_text(t, "outcome", f"tokens[{i}].")).upper() for i, t in enumerate(tokens)}
    slug = message.get("market_slug") or ""
    winners = [str(t["outcome"]).upper() for t in tokens if t.get("winner") is True]
    if labels != {"UP", "DOWN"} or "-updown-" not in slug:
        skipped["clob_market (not Up/Down)"] += 1
        return []
    if len(winners) != 1 or not message.get("closed"):
        skipped["clob_market (unresolved)"] += 1
        return []
    raise FieldError("market", "a resolved CLOB market has no resolution time; use Gamma")


# ------------------------------------------------------------------ field readers


def _text(record: dict, key: str, prefix: str = "") -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise FieldError(prefix + key, f"missing or empty (got {value!r})")
    return value


def _ms(record: dict, key: str, prefix: str = "") -> int:
    try:
        return int_ms(record.get(key))
    except ValueError as exc:
        raise FieldError(prefix + key, str(exc)) from None


def _decimal(record: dict, key: str, prefix: str = "") -> str:
    try:
        value = decimal_str(record.get(key))
    except ValueError as exc:
        raise FieldError(prefix + key, str(exc)) from None
    if value.startswith("-"):
        raise FieldError(prefix + key, f"negative: {value}")
    return value


def _levels(message: dict, key: str) -> list[list[str]]:
    raw = message.get(key)
    if not isinstance(raw, list):
        raise FieldError(key, "expected a list of {price, size} levels")
    levels = []
    for i, level in enumerate(raw):
        if not isinstance(level, dict):
            raise FieldError(f"{key}[{i}]", "expected a {price, size} object")
        levels.append(
            [_decimal(level, "price", f"{key}[{i}]."), _decimal(level, "size", f"{key}[{i}].")]
        )
    return levels
