"""Polymarket WebSocket messages → engine events (live/kernel/events.py), each wrapped with its
source and receive timestamps. Market channel: `book` (levels sorted best-first here: the venue
does not promise an order), `price_change` (old single-level and new `price_changes[]` formats),
`last_trade_price`, `tick_size_change`, `market_resolved`. User channel: `order` (PLACEMENT /
UPDATE / CANCELLATION) and `trade` (MATCHED → MINED → CONFIRMED, or RETRYING / FAILED). Price
stream: `crypto_prices*` topics. Kinds without a journal equivalent get small frozen types here.
The REST order book (`rest_book`) becomes the same `book` event as the market channel's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from live.journal.field import MAX_EPOCH_MS
from live.kernel.domain import Asset, Outcome, dec, taker_fee
from live.kernel.events import BookDelta, BookSnapshot, OracleTick, Resolved, Trade

FINAL_TRADE_STATUSES = frozenset({"CONFIRMED", "FAILED"})


class MessageError(ValueError):
    """A feed message that cannot be parsed; names the field."""


@dataclass(frozen=True, slots=True)
class Received:
    """One parsed event with the venue's timestamp (`source_ts`) and ours (`recv_ts`), in ms."""

    event: Any
    source_ts: int
    recv_ts: int
    channel: str
    kind: str


@dataclass(frozen=True, slots=True)
class TickSizeChange:
    ts: int
    token_id: str
    old_tick: Decimal
    new_tick: Decimal


@dataclass(frozen=True, slots=True)
class MarketResolved:
    """`market_resolved` for a market whose slug the adapter does not know."""

    ts: int
    condition_id: str
    winning_token: str
    winning_outcome: str


@dataclass(frozen=True, slots=True)
class UserOrderEvent:
    ts: int
    venue_order_id: str
    token_id: str
    condition_id: str
    type: str  # PLACEMENT | UPDATE | CANCELLATION
    status: str
    side: str
    price: Decimal
    original_size: Decimal
    size_matched: Decimal


@dataclass(frozen=True, slots=True)
class OurFill:
    """Our side of one trade: the order of ours it filled, by how much, on which token and side.
    A maker fill takes token and side from its own maker entry: the venue cross-matches a BUY
    of Up against a BUY of Down (a mint), so a maker entry can sit on the other token of the
    market with the same side as the taker (SDK MakerOrder.asset_id/side,
    polymarket/models/clob/account.py; docs.polymarket.com user channel `maker_orders`)."""

    venue_order_id: str
    price: Decimal
    shares: Decimal
    fee: Decimal
    role: str  # TAKER | MAKER
    token_id: str = ""
    side: str = ""


@dataclass(frozen=True, slots=True)
class TradeView:
    """A trade (REST or WebSocket) reduced to what the adapter needs."""

    trade_id: str
    status: str
    token_id: str
    side: str
    ts: int
    fills: tuple[OurFill, ...]

    @property
    def final(self) -> bool:
        return self.status in FINAL_TRADE_STATUSES


# ------------------------------------------------------------------ field readers


def _object(value: Any, what: str) -> dict:
    """`value` if it is a JSON object, else MessageError naming `what`."""
    if not isinstance(value, dict):
        raise MessageError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _list(msg: dict, key: str) -> list:
    """The list at `key` ([] when absent or null), else MessageError naming the field."""
    value = msg.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MessageError(f"field {key!r} must be a list, got {type(value).__name__}")
    return value


def _get(msg: dict, key: str) -> Any:
    value = msg.get(key)
    if value is None or value == "":
        raise MessageError(f"field {key!r} missing")
    return value


def _ms(msg: dict, key: str = "timestamp") -> int:
    value = _get(msg, key)
    try:
        number = int(Decimal(str(value)))
    except (ArithmeticError, ValueError):  # not a number, NaN, infinite
        raise MessageError(f"field {key!r}: not a timestamp: {value!r}") from None
    ms = number * 1000 if number < 10**11 else number  # seconds → ms
    if not 0 <= ms <= MAX_EPOCH_MS:
        raise MessageError(f"field {key!r}: not a time in years 1970-9999: {value!r}")
    return ms


def _dec(msg: dict, key: str, default: str | None = None) -> Decimal:
    """A finite decimal (string or number; not a bool); `default` when absent if given."""
    if default is not None and msg.get(key) in (None, ""):
        return Decimal(default)
    value = _get(msg, key)
    if isinstance(value, bool):
        raise MessageError(f"field {key!r}: not a decimal: {value!r}")
    try:
        return dec(value, key)
    except ValueError as exc:
        raise MessageError(f"field {key!r}: {str(exc).removeprefix(key + ': ')}") from None


def _float(msg: dict, key: str) -> float:
    """A market-data number as a float, refused if it is too large for one."""
    value = float(_dec(msg, key))
    if value in (math.inf, -math.inf):
        raise MessageError(f"field {key!r}: out of range: {msg[key]!r}")
    return value


def trade_status(value: object) -> str:
    """REST says TRADE_STATUS_CONFIRMED, the stream CONFIRMED: one plain form."""
    return str(value).upper().removeprefix("TRADE_STATUS_")


def order_status(value: object) -> str:
    """The order lookup's ORDER_STATUS_LIVE (docs/venue.md O6) or LIVE: one plain form."""
    return str(getattr(value, "value", value)).upper().removeprefix("ORDER_STATUS_")


# ------------------------------------------------------------------ market channel


def _levels(msg: dict, key: str, best_first_desc: bool) -> tuple[tuple[float, float], ...]:
    levels = []
    for i, level in enumerate(_list(msg, key)):
        level = _object(level, f"{key}[{i}]")
        levels.append((_float(level, "price"), _float(level, "size")))
    levels.sort(key=lambda lv: lv[0], reverse=best_first_desc)
    return tuple(levels)


def _book(msg: dict) -> list[Any]:
    token = str(_get(msg, "asset_id"))
    bids = _levels(msg, "bids", True)
    asks = _levels(msg, "asks", False)
    return [BookSnapshot(_ms(msg), token, bids, asks)]


def rest_book(token_id: str, book: Any) -> BookSnapshot:
    """An SDK OrderBook (REST) as a journal `book` snapshot, levels sorted best-first."""

    def levels(side: str) -> list[tuple[float, float]]:
        out = []
        for i, level in enumerate(getattr(book, side, None) or ()):
            fields = {"price": getattr(level, "price", None), "size": getattr(level, "size", None)}
            try:
                out.append((_float(fields, "price"), _float(fields, "size")))
            except MessageError as exc:
                raise MessageError(f"REST book {side}[{i}]: {exc}") from None
        return out

    bids, asks = sorted(levels("bids"), reverse=True), sorted(levels("asks"))
    stamp = getattr(book, "timestamp", None)
    if isinstance(stamp, datetime):  # the SDK's OrderBook parses the venue's epoch ms into one
        if stamp.tzinfo is None:
            raise MessageError(f"REST book timestamp without a time zone: {stamp.isoformat()}")
        stamp = int(stamp.timestamp() * 1000)
    ts = 0 if stamp in (None, "", 0, "0") else _ms({"timestamp": stamp})
    return BookSnapshot(ts, token_id, tuple(bids), tuple(asks))


def _price_change(msg: dict) -> list[Any]:
    """Every historical shape of `price_change` (source: docs.polymarket.com market channel and
    its migration guide, poly-rodr's 2024 WebSocket-changes gist): 2024 one level per message
    (`asset_id`, `price`, `side`, `size` at the top), mid-2025 top-level `asset_id` with a
    `changes[]` array of {price, side, size}, and since 2025-09-15 `price_changes[]` whose
    entries carry their own `asset_id`."""
    ts = _ms(msg)
    if msg.get("price_changes") is not None:
        changes = enumerate(_list(msg, "price_changes"))
        items = [(c, None, f"price_changes[{i}]") for i, c in changes]
    elif msg.get("changes") is not None:
        token = str(_get(msg, "asset_id"))
        items = [(c, token, f"changes[{i}]") for i, c in enumerate(_list(msg, "changes"))]
    else:
        items = [(msg, None, "price_change")]
    out = []
    for change, token, what in items:
        change = _object(change, what)
        side = {"BUY": "bid", "SELL": "ask"}.get(str(change.get("side", "")).upper())
        if side is None:
            raise MessageError(f"{what} side must be BUY or SELL: {change.get('side')!r}")
        asset = token if token is not None else str(_get(change, "asset_id"))
        out.append(BookDelta(ts, asset, side, _float(change, "price"), _float(change, "size")))
    return out


def _last_trade(msg: dict) -> list[Any]:
    side = str(_get(msg, "side")).upper()
    return [
        Trade(_ms(msg), str(_get(msg, "asset_id")), _float(msg, "price"),
              _float(msg, "size"), side)
    ]  # fmt: skip


def _tick_size(msg: dict) -> list[Any]:
    return [
        TickSizeChange(
            _ms(msg), str(_get(msg, "asset_id")), _dec(msg, "old_tick_size"),
            _dec(msg, "new_tick_size"),
        )
    ]  # fmt: skip


def parse_market_message(
    message: Any, recv_ts: int, slug_of_condition: dict[str, str] | None = None
) -> list[Received]:
    """A market-channel frame (one message or a JSON list of them) → received events.
    Unknown event types (e.g. best_bid_ask, new_market) yield nothing."""
    items = message if isinstance(message, list) else [message]
    out: list[Received] = []
    for msg in items:
        if not isinstance(msg, dict):
            raise MessageError("market message must be a JSON object")
        kind = str(msg.get("event_type") or ("book" if "bids" in msg else ""))
        handler = _MARKET.get(kind)
        if kind == "market_resolved":
            events = [_resolved(msg, slug_of_condition or {})]
        elif handler is None:
            continue
        else:
            events = handler(msg)
        out.extend(Received(e, e.ts, recv_ts, "market", kind) for e in events)
    return out


def _resolved(msg: dict, slug_of_condition: dict[str, str]) -> Any:
    ts, condition = _ms(msg), str(_get(msg, "market"))
    label = str(msg.get("winning_outcome", "")).upper()
    slug = slug_of_condition.get(condition)
    if slug is not None and label in ("UP", "DOWN"):
        return Resolved(ts, slug, Outcome(label))
    return MarketResolved(ts, condition, str(msg.get("winning_asset_id", "")), label)


_MARKET = {
    "book": _book,
    "price_change": _price_change,
    "last_trade_price": _last_trade,
    "tick_size_change": _tick_size,
}

# ------------------------------------------------------------------ user channel


def trade_view(msg: dict, api_key: str) -> TradeView:
    """A trade dict (WebSocket event or REST row) → our fills in it. As TAKER our order is
    `taker_order_id` and we got the trade's size at its price (fee: the taker formula on the
    trade's fee rate, or the venue's `fee` when given); as MAKER, the `maker_orders` entries
    owned by our API key, without fee."""
    msg = _object(msg, "trade")
    status = trade_status(_get(msg, "status"))
    price, size = _dec(msg, "price"), _dec(msg, "size")
    token, side = str(_get(msg, "asset_id")), str(msg.get("side", "")).upper()
    fills: list[OurFill] = []
    if str(msg.get("trader_side", "TAKER")).upper() == "TAKER":
        if msg.get("fee") not in (None, ""):
            fee = _dec(msg, "fee")
        else:
            rate = _dec(msg, "fee_rate_bps", default="0") / 10_000
            fee = taker_fee(size, rate, price)
        order_id = str(_get(msg, "taker_order_id"))
        fills.append(OurFill(order_id, price, size, fee, "TAKER", token, side))
    else:
        for i, entry in enumerate(_list(msg, "maker_orders")):
            if _object(entry, f"maker_orders[{i}]").get("owner") == api_key:
                fills.append(_maker_fill(entry, token, side))
    ts = _ms(msg, "timestamp") if msg.get("timestamp") else _ms(msg, "match_time")
    return TradeView(str(_get(msg, "id")), status, token, side, ts, tuple(fills))


def _maker_fill(entry: dict, trade_token: str, taker_side: str) -> OurFill:
    """One maker entry of ours: token, side, price and size its own. An entry without
    `asset_id`/`side` (older records) sits on the trade's token opposite the taker."""
    token = str(entry.get("asset_id") or entry.get("token_id") or trade_token)
    side = str(entry.get("side") or "").upper()
    if not side:
        side = {"BUY": "SELL", "SELL": "BUY"}.get(taker_side, "")
    if side not in ("BUY", "SELL"):
        raise MessageError(f"maker entry side must be BUY or SELL: {entry.get('side')!r}")
    return OurFill(
        str(_get(entry, "order_id")), _dec(entry, "price"), _dec(entry, "matched_amount"),
        Decimal(0), "MAKER", token, side,
    )  # fmt: skip


def _order_event(msg: dict) -> UserOrderEvent:
    return UserOrderEvent(
        ts=_ms(msg),
        venue_order_id=str(_get(msg, "id")),
        token_id=str(_get(msg, "asset_id")),
        condition_id=str(msg.get("market", "")),
        type=str(_get(msg, "type")).upper(),
        status=str(msg.get("status", "")).upper(),
        side=str(_get(msg, "side")).upper(),
        price=_dec(msg, "price"),
        original_size=_dec(msg, "original_size"),
        size_matched=_dec(msg, "size_matched", default="0"),
    )


def parse_user_message(message: Any, recv_ts: int, api_key: str) -> list[Received]:
    """A user-channel frame → UserOrderEvent / TradeView events."""
    items = message if isinstance(message, list) else [message]
    out: list[Received] = []
    for msg in items:
        if not isinstance(msg, dict):
            raise MessageError("user message must be a JSON object")
        kind = msg.get("event_type")
        if kind == "order":
            event: Any = _order_event(msg)
        elif kind == "trade":
            event = trade_view(msg, api_key)
        else:
            continue
        out.append(Received(event, event.ts, recv_ts, "user", kind))
    return out


# ------------------------------------------------------------------ crypto prices

_E18 = Decimal(10) ** 18


def asset_of_symbol(symbol: str) -> Asset | None:
    """The asset of a price symbol (`btcusdt`, `btc/usd`, `btcusd`), None if not traded."""
    name = symbol.lower().replace("/", "").removesuffix("usdt").removesuffix("usd").upper()
    return Asset(name) if name in Asset.__members__ else None


def _oracle_price(payload: dict) -> Decimal:
    """`full_accuracy_value` when present: a decimal string, or an integer scaled by 1e18 (the
    Chainlink feeds' native units), recognised by agreeing with the float `value`."""
    full = payload.get("full_accuracy_value")
    if full in (None, ""):
        return _dec(payload, "value")
    price = _dec(payload, "full_accuracy_value")
    approx = payload.get("value")
    if "." not in str(full) and approx and price > 10**12:
        scaled = price / _E18
        if abs(scaled - _dec(payload, "value")) <= abs(scaled) / 100:
            return scaled
    return price


def parse_price_message(message: Any, recv_ts: int) -> list[Received]:
    """A crypto price frame → OracleTick(s) (source = 'topic:symbol')."""
    items = message if isinstance(message, list) else [message]
    out: list[Received] = []
    for msg in items:
        if not isinstance(msg, dict) or not str(msg.get("topic", "")).startswith("crypto_prices"):
            continue
        payload = msg.get("payload")
        if not isinstance(payload, dict):
            raise MessageError("price message without a payload object")
        symbol = str(_get(payload, "symbol"))
        asset = asset_of_symbol(symbol)
        if asset is None:
            continue
        ts = _ms(payload)
        tick = OracleTick(ts, asset, _oracle_price(payload), f"{msg['topic']}:{symbol}")
        out.append(Received(tick, ts, recv_ts, "prices", str(msg["topic"])))
    return out
