"""The venue port: what the runner and its gateway call on a venue, and the plain answers they
get back (DESIGN §6). `PolymarketVenue` (live/venues/polymarket.py) implements it over the official
SDK, against Polymarket or the sandbox. A failed query raises; it is never read as "flat" or "no
orders" (DESIGN §1.3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """The venue's answer to a post: accepted with an order id, or an error text."""

    ok: bool
    venue_order_id: str | None
    status: str | None = None  # live | matched | delayed | unmatched
    error: str | None = None
    trade_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VenueOrder:
    venue_order_id: str
    token_id: str
    side: str
    price: Decimal
    size: Decimal
    filled: Decimal


@dataclass(frozen=True, slots=True)
class VenueTrade:
    trade_id: str
    venue_order_id: str
    token_id: str
    side: str
    price: Decimal
    shares: Decimal
    fee: Decimal
    status: str  # MATCHED | MINED | CONFIRMED | RETRYING | FAILED
    ts: int


class Venue(Protocol):
    """What the LIVE adapter implements; the runner turns answers into journal events
    (order_ack / order_fill / order_reject / order_cancel / order_unknown / balance /
    venue_positions) and feeds them back to the engine. A failed query raises; it is never
    read as "flat" or "no orders" (DESIGN §1.3)."""

    async def place(self, payload: Mapping[str, Any]) -> PlaceResult: ...

    async def cancel(self, venue_order_id: str) -> bool: ...

    async def cancel_all(self) -> None: ...

    async def balance(self) -> Decimal: ...

    async def positions(self) -> Mapping[str, Decimal]: ...

    async def open_orders(self) -> list[VenueOrder]: ...

    async def trades(self, since_ts: int) -> list[VenueTrade]: ...

    async def validate_token(self, token_id: str) -> bool: ...
