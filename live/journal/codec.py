"""The journal codec: JSON lines of the events in live/kernel/events.py ↔ events — at once the
recorder's journal, the replay input and the format of hand-written scenarios. Every line has `ts`
(epoch ms) and `kind`; all other time fields are epoch ms, prices and sizes are decimal strings.
This module validates lines into events (errors name the line and field, see live.journal.field)
and writes events back to lines; reading whole files is live.journal.reader. No file access here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal
from typing import Any

import orjson

from live.journal import field
from live.journal.field import JournalError
from live.kernel.domain import Asset, OrderSide, Outcome, SettlementRule, Window
from live.kernel.events import (
    BalanceReport,
    BookDelta,
    BookSnapshot,
    ControlChange,
    Event,
    FillSettled,
    OracleTick,
    OrderAck,
    OrderCancel,
    OrderFill,
    OrderReject,
    OrderSent,
    OrderUnknown,
    Redeemed,
    Resolved,
    SignalLine,
    Timer,
    Trade,
    VenuePositions,
    WindowListed,
    kind_of,
)

__all__ = ["JournalError", "KINDS", "parse_event", "parse_line", "to_dict", "to_json"]


# ------------------------------------------------------------------ kinds


def _window(o: dict[str, Any], ts: int) -> WindowListed:
    open_ts = field.epoch_ms(o, "open_ts")
    close_ts = field.epoch_ms(o, "close_ts")
    if close_ts <= open_ts:
        raise JournalError("must be after open_ts", field="close_ts")
    window = Window(
        slug=field.text(o, "slug"),
        asset=field.member(o, "asset", Asset),
        length_s=field.non_negative_int(o, "length_s"),
        open_ts=open_ts,
        close_ts=close_ts,
        condition_id=field.text(o, "condition_id"),
        token_up=field.text(o, "token_up"),
        token_down=field.text(o, "token_down"),
        tick_size=field.decimal(o, "tick_size"),
        min_size=field.decimal(o, "min_size"),
        fee_rate=field.decimal(o, "fee_rate"),
        settlement_rule=field.member(o, "settlement_rule", SettlementRule, str.lower),
        strike=field.optional_decimal(o, "strike"),
    )
    return WindowListed(ts, window)


def _signal(o: dict[str, Any], ts: int) -> SignalLine:
    amount = field.decimal(o, "usd")
    if amount <= 0:
        raise JournalError(f"must be > 0, got {amount}", field="usd")
    return SignalLine(
        ts=ts,
        slug=field.text(o, "slug"),
        side=field.member(o, "side", Outcome),
        usd=amount,
        max_price=field.optional_decimal(o, "max_price"),
        stop_loss=field.optional_decimal(o, "stop_loss"),
        take_profit=field.optional_decimal(o, "take_profit"),
        trailing_stop=field.optional_decimal(o, "trailing_stop"),
        signal_id=field.optional_text(o, "signal_id", None),
        strategy=field.optional_text(o, "strategy", "scripted"),
    )


def _fill(o: dict[str, Any], ts: int) -> OrderFill:
    return OrderFill(
        ts=ts,
        client_order_id=field.text(o, "client_order_id"),
        fill_id=field.text(o, "fill_id"),
        price=field.decimal(o, "price"),
        shares=field.decimal(o, "shares"),
        fee=field.decimal(o, "fee") if "fee" in o else Decimal(0),
        status=field.optional_text(o, "status", "CONFIRMED"),
        intended_price=field.optional_decimal(o, "intended_price"),
        book_ratio=field.optional_decimal(o, "book_ratio"),
        impact_flag=_flag(o, "impact_flag"),
    )


def _flag(o: dict[str, Any], key: str) -> bool:
    value = o.get(key, False)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise JournalError(f"must be true or false, got {value!r}", field=key)


def _pairs(raw: Any, name: str) -> tuple[tuple[str, Decimal], ...]:
    if not isinstance(raw, list):
        raise JournalError("must be a list of [token_id, shares] pairs", field=name)
    pairs = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
            raise JournalError(f"entry {i} must be a [token_id, shares] pair", field=name)
        pairs.append((str(pair[0]), field.decimal({"shares": pair[1]}, "shares")))
    return tuple(pairs)


def _venue_positions(o: dict[str, Any], ts: int) -> VenuePositions:
    positions = _pairs(field.required(o, "positions"), "positions")
    return VenuePositions(ts, positions, _pairs(o.get("redeemable", []), "redeemable"))


def _fill_settled(o: dict[str, Any], ts: int) -> FillSettled:
    status = field.text(o, "status")
    if status not in ("CONFIRMED", "FAILED"):
        raise JournalError("must be CONFIRMED or FAILED", field="status")
    return FillSettled(
        ts,
        field.text(o, "client_order_id"),
        field.text(o, "fill_id"),
        status,
        field.optional_text(o, "reason"),
    )


def _redeemed(o: dict[str, Any], ts: int) -> Redeemed:
    attempts = o.get("attempts", 1)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
        raise JournalError("must be a non-negative integer", field="attempts")
    return Redeemed(
        ts,
        field.text(o, "window_slug"),
        field.optional_decimal(o, "paid"),
        field.optional_text(o, "tx_hash"),
        field.optional_text(o, "via"),
        attempts,
    )


_PARSERS: dict[str, Callable[[dict[str, Any], int], Any]] = {
    "window": _window,
    "book": lambda o, ts: BookSnapshot(
        ts, field.text(o, "token_id"), field.levels(o, "bids"), field.levels(o, "asks")
    ),
    "book_delta": lambda o, ts: BookDelta(
        ts,
        field.text(o, "token_id"),
        field.book_side(o, "side"),
        field.price(o, "price"),
        field.size(o, "size"),
    ),
    "trade": lambda o, ts: Trade(
        ts,
        field.text(o, "token_id"),
        field.price(o, "price"),
        field.size(o, "size"),
        field.member(o, "side", OrderSide),
    ),
    "oracle": lambda o, ts: OracleTick(
        ts,
        field.member(o, "asset", Asset),
        field.decimal(o, "price"),
        field.optional_text(o, "source"),
    ),
    "resolved": lambda o, ts: Resolved(
        ts, field.text(o, "slug"), field.member(o, "winner", Outcome)
    ),
    "control": lambda o, ts: ControlChange(ts, field.text(o, "key"), field.text(o, "value")),
    "signal": _signal,
    "order_sent": lambda o, ts: OrderSent(ts, field.text(o, "client_order_id")),
    "order_ack": lambda o, ts: OrderAck(
        ts,
        field.text(o, "client_order_id"),
        field.text(o, "venue_order_id"),
        field.non_negative_int(o, "matching_pending_ms") if "matching_pending_ms" in o else 0,
    ),
    "order_reject": lambda o, ts: OrderReject(
        ts, field.text(o, "client_order_id"), field.optional_text(o, "reason")
    ),
    "order_fill": _fill,
    "order_cancel": lambda o, ts: OrderCancel(
        ts, field.text(o, "client_order_id"), field.optional_text(o, "reason")
    ),
    "order_unknown": lambda o, ts: OrderUnknown(
        ts, field.text(o, "client_order_id"), field.optional_text(o, "reason")
    ),
    "fill_settled": _fill_settled,
    "balance": lambda o, ts: BalanceReport(ts, field.decimal(o, "usd")),
    "venue_positions": _venue_positions,
    "redeemed": _redeemed,
    "timer": lambda o, ts: Timer(ts),
}

KINDS = tuple(_PARSERS)


def parse_event(obj: Any, lineno: int = 0, source: str = "") -> Event:
    """Validate one decoded journal object and build its event; raises JournalError."""
    try:
        if not isinstance(obj, dict):
            raise JournalError("a journal line must be a JSON object")
        ts = field.epoch_ms(obj, "ts")
        kind = field.required(obj, "kind")
        parser = _PARSERS.get(kind) if isinstance(kind, str) else None
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
