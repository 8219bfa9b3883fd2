"""The venue side of startup reconciliation (FM19): open orders, positions, recent trades and
balance, taken together. Any failed query raises VenueQueryError: a snapshot is complete or it
does not exist, so a failed query can never be read as "flat" or "no orders"."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from live.venues.port import VenueOrder, VenueTrade


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    taken_ms: int
    balance_usd: Decimal
    positions: dict[str, Decimal]
    open_orders: tuple[VenueOrder, ...]
    recent_trades: tuple[VenueTrade, ...]

    @property
    def open_order_ids(self) -> frozenset[str]:
        return frozenset(o.venue_order_id for o in self.open_orders)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (for `reconciliation_runs.venue`)."""
        return {
            "taken_ms": self.taken_ms,
            "balance_usd": str(self.balance_usd),
            "positions": {t: str(s) for t, s in sorted(self.positions.items())},
            "open_orders": [
                {"venue_order_id": o.venue_order_id, "token_id": o.token_id, "side": o.side,
                 "price": str(o.price), "size": str(o.size), "filled": str(o.filled)}
                for o in self.open_orders
            ],
            "recent_trades": [
                {"trade_id": t.trade_id, "venue_order_id": t.venue_order_id,
                 "token_id": t.token_id, "side": t.side, "price": str(t.price),
                 "shares": str(t.shares), "fee": str(t.fee), "status": t.status, "ts": t.ts}
                for t in self.recent_trades
            ],
        }  # fmt: skip


async def take_snapshot(venue: Any, since_ts_ms: int, now_ms: int) -> VenueSnapshot:
    """Query all four; the first failure propagates (VenueQueryError)."""
    open_orders = await venue.open_orders()
    positions = await venue.positions()
    trades = await venue.trades(since_ts_ms)
    balance = await venue.balance()
    return VenueSnapshot(
        taken_ms=now_ms,
        balance_usd=balance,
        positions=dict(positions),
        open_orders=tuple(open_orders),
        recent_trades=tuple(trades),
    )
