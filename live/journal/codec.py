"""The journal: JSON lines (optionally gzipped) of the events in live/kernel/events.py — at once the
recorder's journal, the replay input and the format of hand-written scenarios. Every line has `ts`
(epoch ms) and `kind`; all other time fields are epoch ms, prices and sizes are decimal strings.
This module validates lines into events (errors name the line and field), writes events back to
lines, and reads files merged by ts. The event types are re-exported here for convenience.
"""

from __future__ import annotations

import gzip
import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from live.kernel.domain import Asset, OrderSide, Outcome, SettlementRule, Window, dec
from live.kernel.events import (
    BalanceReport,
    BookDelta,
    BookSnapshot,
    ControlChange,
    Event,
    Level,
    OracleTick,
    OrderAck,
    OrderCancel,
    OrderFill,
    OrderReject,
    OrderUnknown,
    Resolved,
    SignalLine,
    Timer,
    Trade,
    VenuePositions,
    WindowListed,
    kind_of,
)

__all__ = [
    "JournalError",
    "JournalReader",
    "KINDS",
    "parse_event",
    "parse_line",
    "read_journal",
    "to_dict",
    "to_json",
]


class JournalError(ValueError):
    """A journal line that cannot be used; names the source, line number and field."""

    def __init__(self, message: str, lineno: int = 0, field: str = "", source: str = "") -> None:
        self.reason, self.lineno, self.field, self.source = message, lineno, field, source
        where = f"{source}:" if source else ""
        at = f"line {lineno}" if lineno else "line ?"
        name = f" field {field!r}" if field else ""
        super().__init__(f"{where}{at}{name}: {message}")


# ------------------------------------------------------------------ field parsers


def _get(obj: dict[str, Any], key: str) -> Any:
    if key not in obj or obj[key] is None:
        raise JournalError("missing", field=key)
    return obj[key]


def _str(obj: dict[str, Any], key: str) -> str:
    value = _get(obj, key)
    if not isinstance(value, str) or not value:
        raise JournalError(f"must be a non-empty string, got {value!r}", field=key)
    return value


def _int(obj: dict[str, Any], key: str) -> int:
    value = _get(obj, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JournalError(f"must be a non-negative integer (epoch ms), got {value!r}", field=key)
    return value


def _dec(obj: dict[str, Any], key: str) -> Decimal:
    value = _get(obj, key)
    if not isinstance(value, str):
        raise JournalError(f"must be a decimal string, got {value!r}", field=key)
    try:
        return dec(value)
    except ValueError as exc:
        raise JournalError(str(exc), field=key) from None


def _opt_dec(obj: dict[str, Any], key: str) -> Decimal | None:
    return None if obj.get(key) is None else _dec(obj, key)


def _price(obj: dict[str, Any], key: str) -> float:
    value = _dec(obj, key)
    if not (0 < value < 1):
        raise JournalError(f"price must be in (0, 1), got {value}", field=key)
    return float(value)


def _size(obj: dict[str, Any], key: str) -> float:
    value = _dec(obj, key)
    if value < 0:
        raise JournalError(f"size must be >= 0, got {value}", field=key)
    return float(value)


_MEMBERS: dict[type, dict[str, Any]] = {}


def _enum(obj: dict[str, Any], key: str, enum: type, transform: Callable[[str], str] = str.upper):
    value = _str(obj, key)
    members = _MEMBERS.get(enum)
    if members is None:  # value -> member; a dict lookup is ~10x an Enum call on the hot path
        members = _MEMBERS[enum] = {m.value: m for m in enum}
    member = members.get(transform(value))
    if member is None:
        allowed = ", ".join(str(m) for m in enum)
        raise JournalError(f"must be one of {allowed}, got {value!r}", field=key)
    return member


def _levels(obj: dict[str, Any], key: str) -> tuple[Level, ...]:
    """Book levels as floats (market data). The hot path: the same rules as `_price`/`_size`
    (decimal strings, finite, 0 < price < 1, size >= 0) checked on floats directly; the slow
    path only runs to word the error."""
    raw = obj.get(key, [])
    if not isinstance(raw, list):
        raise JournalError("must be a list of [price, size] pairs", field=key)
    levels = []
    for pair in raw:
        if type(pair) is list and len(pair) == 2:
            p, s = pair
            if type(p) is str and type(s) is str:
                try:
                    price, size = float(p), float(s)
                except ValueError:
                    price = size = _NAN
                if 0.0 < price < 1.0 and 0.0 <= size < _INF:
                    levels.append((price, size))
                    continue
        _level_error(key, raw, len(levels))
    return tuple(levels)


def _level_error(key: str, raw: list, i: int) -> None:
    """Raise the precise error for level `i` (the slow, Decimal-checked path)."""
    pair = raw[i]
    if not isinstance(pair, list) or len(pair) != 2:
        raise JournalError(f"entry {i} must be a [price, size] pair", field=key)
    level = {"price": pair[0], "size": pair[1]}
    try:
        _price(level, "price")
        _size(level, "size")
    except JournalError as exc:
        raise JournalError(f"entry {i}: {exc.reason}", field=key) from None
    raise JournalError(f"entry {i}: not a finite decimal pair: {pair!r}", field=key)


_NAN = float("nan")
_INF = float("inf")
_BOOK_SIDES = {"bid": "bid", "ask": "ask", "BUY": "bid", "SELL": "ask", "buy": "bid", "sell": "ask"}


def _book_side(obj: dict[str, Any], key: str) -> str:
    value = _get(obj, key)
    if value not in _BOOK_SIDES:
        raise JournalError(f"must be bid or ask (or BUY / SELL), got {value!r}", field=key)
    return _BOOK_SIDES[value]


# ------------------------------------------------------------------ kinds


def _window(o: dict[str, Any], ts: int) -> WindowListed:
    open_ts, close_ts = _int(o, "open_ts"), _int(o, "close_ts")
    if close_ts <= open_ts:
        raise JournalError("must be after open_ts", field="close_ts")
    window = Window(
        slug=_str(o, "slug"),
        asset=_enum(o, "asset", Asset),
        length_s=_int(o, "length_s"),
        open_ts=open_ts,
        close_ts=close_ts,
        condition_id=_str(o, "condition_id"),
        token_up=_str(o, "token_up"),
        token_down=_str(o, "token_down"),
        tick_size=_dec(o, "tick_size"),
        min_size=_dec(o, "min_size"),
        fee_rate=_dec(o, "fee_rate"),
        settlement_rule=_enum(o, "settlement_rule", SettlementRule, str.lower),
        strike=_opt_dec(o, "strike"),
    )
    return WindowListed(ts, window)


def _signal(o: dict[str, Any], ts: int) -> SignalLine:
    amount = _dec(o, "usd")
    if amount <= 0:
        raise JournalError(f"must be > 0, got {amount}", field="usd")
    return SignalLine(
        ts=ts,
        slug=_str(o, "slug"),
        side=_enum(o, "side", Outcome),
        usd=amount,
        max_price=_opt_dec(o, "max_price"),
        stop_loss=_opt_dec(o, "stop_loss"),
        take_profit=_opt_dec(o, "take_profit"),
        trailing_stop=_opt_dec(o, "trailing_stop"),
        signal_id=o.get("signal_id"),
        strategy=o.get("strategy") or "scripted",
    )


def _fill(o: dict[str, Any], ts: int) -> OrderFill:
    return OrderFill(
        ts=ts,
        client_order_id=_str(o, "client_order_id"),
        fill_id=_str(o, "fill_id"),
        price=_dec(o, "price"),
        shares=_dec(o, "shares"),
        fee=_dec(o, "fee") if "fee" in o else Decimal(0),
        status=o.get("status") or "CONFIRMED",
        intended_price=_opt_dec(o, "intended_price"),
        book_ratio=_opt_dec(o, "book_ratio"),
        impact_flag=bool(o.get("impact_flag", False)),
    )


def _venue_positions(o: dict[str, Any], ts: int) -> VenuePositions:
    raw = _get(o, "positions")
    if not isinstance(raw, list):
        raise JournalError("must be a list of [token_id, shares] pairs", field="positions")
    pairs = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
            raise JournalError(f"entry {i} must be a [token_id, shares] pair", field="positions")
        pairs.append((str(pair[0]), _dec({"shares": pair[1]}, "shares")))
    return VenuePositions(ts, tuple(pairs))


_PARSERS: dict[str, Callable[[dict[str, Any], int], Any]] = {
    "window": _window,
    "book": lambda o, ts: BookSnapshot(
        ts, _str(o, "token_id"), _levels(o, "bids"), _levels(o, "asks")
    ),
    "book_delta": lambda o, ts: BookDelta(
        ts, _str(o, "token_id"), _book_side(o, "side"), _price(o, "price"), _size(o, "size")
    ),
    "trade": lambda o, ts: Trade(
        ts, _str(o, "token_id"), _price(o, "price"), _size(o, "size"), _enum(o, "side", OrderSide)
    ),
    "oracle": lambda o, ts: OracleTick(
        ts, _enum(o, "asset", Asset), _dec(o, "price"), o.get("source") or ""
    ),
    "resolved": lambda o, ts: Resolved(ts, _str(o, "slug"), _enum(o, "winner", Outcome)),
    "control": lambda o, ts: ControlChange(ts, _str(o, "key"), _str(o, "value")),
    "signal": _signal,
    "order_ack": lambda o, ts: OrderAck(ts, _str(o, "client_order_id"), _str(o, "venue_order_id")),
    "order_reject": lambda o, ts: OrderReject(
        ts, _str(o, "client_order_id"), o.get("reason") or ""
    ),
    "order_fill": _fill,
    "order_cancel": lambda o, ts: OrderCancel(
        ts, _str(o, "client_order_id"), o.get("reason") or ""
    ),
    "order_unknown": lambda o, ts: OrderUnknown(
        ts, _str(o, "client_order_id"), o.get("reason") or ""
    ),
    "balance": lambda o, ts: BalanceReport(ts, _dec(o, "usd")),
    "venue_positions": _venue_positions,
    "timer": lambda o, ts: Timer(ts),
}

KINDS = tuple(_PARSERS)


def parse_event(obj: Any, lineno: int = 0, source: str = "") -> Event:
    """Validate one decoded journal object and build its event; raises JournalError."""
    try:
        if not isinstance(obj, dict):
            raise JournalError("a journal line must be a JSON object")
        ts = _int(obj, "ts")
        kind = _get(obj, "kind")
        parser = _PARSERS.get(kind)
        if parser is None:
            raise JournalError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}", field="kind")
        return parser(obj, ts)
    except JournalError as exc:
        raise JournalError(exc.reason, lineno, exc.field, source) from None


def parse_line(text: str, lineno: int = 0, source: str = "") -> Event:
    """Parse one JSON line into an event; errors name the line number and field."""
    try:
        obj = orjson.loads(text)  # ~4x json.loads on journal lines
    except orjson.JSONDecodeError as exc:
        raise JournalError(f"not valid JSON ({exc.msg})", lineno, "", source) from None
    return parse_event(obj, lineno, source)


# ------------------------------------------------------------------ serialising


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def to_dict(event: Event) -> dict[str, Any]:
    """The journal object for an event (the inverse of parse_event)."""
    if isinstance(event, WindowListed):
        out: dict[str, Any] = {"ts": event.ts, "kind": "window"}
        for f in fields(Window):
            out[f.name] = _plain(getattr(event.window, f.name))
        return out
    names = event._fields if isinstance(event, tuple) else [f.name for f in fields(event)]
    out = {"ts": event.ts, "kind": kind_of(event)}
    for name in names:
        if name != "ts":
            out[name] = _plain(getattr(event, name))
    return out


def to_json(event: Event) -> str:
    """One journal line (without newline) for an event."""
    return json.dumps(to_dict(event), separators=(",", ":"))


# ------------------------------------------------------------------ reading files


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


class JournalReader:
    """Events of one or more journal files merged by `ts` (stable: equal ts keep file order, then
    line order). Each file must be in ts order. With skip_invalid, bad lines are counted in
    `skipped` (first 100 messages in `errors`) instead of raising."""

    def __init__(self, paths: Iterable[str | Path], skip_invalid: bool = False) -> None:
        self.paths = [Path(p) for p in paths]
        self.skip_invalid = skip_invalid
        self.skipped = 0
        self.errors: list[str] = []

    def _file_events(self, path: Path) -> Iterator[Event]:
        last_ts = -1
        with _open(path) as handle:
            for lineno, text in enumerate(handle, start=1):
                if not text.strip() or text.lstrip().startswith("#"):
                    continue
                try:
                    event = parse_line(text, lineno, str(path))
                    if event.ts < last_ts:
                        raise JournalError(
                            f"ts {event.ts} is before the previous line's {last_ts} "
                            "(a journal file must be in ts order)",
                            lineno,
                            "ts",
                            str(path),
                        )
                except JournalError as exc:
                    if not self.skip_invalid:
                        raise
                    self.skipped += 1
                    if len(self.errors) < 100:
                        self.errors.append(str(exc))
                    continue
                last_ts = event.ts
                yield event

    def __iter__(self) -> Iterator[Event]:
        streams = [self._file_events(p) for p in self.paths]
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=_event_ts)


def _event_ts(event: Event) -> int:
    return event.ts


def read_journal(paths: Iterable[str | Path], skip_invalid: bool = False) -> JournalReader:
    """Iterate the events of journal files merged by ts; see JournalReader."""
    return JournalReader(paths, skip_invalid)
