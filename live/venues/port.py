"""The venue port: the one protocol the runner's parts call on a venue (DESIGN §6), and the plain
answers they get back. `PolymarketVenue` (live/venues/polymarket.py) implements it over the
official SDK, against Polymarket or the sandbox. A failed query raises; it is never read as
"flat", "no orders" or "zero balance" (DESIGN §1.3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from live.kernel.events import BookSnapshot
from live.venues.discovery import Discovered
from live.venues.execution import Execution
from live.venues.messages import Received
from live.venues.streams import FeedSocket


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One of our orders working at the venue (prices in dollars, sizes in shares)."""

    venue_order_id: str
    token_id: str
    side: str
    price: Decimal
    size: Decimal
    filled: Decimal


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One fill of ours as the venue reports it (`ts` in epoch ms, the venue's own time)."""

    trade_id: str
    venue_order_id: str
    token_id: str
    side: str
    price: Decimal
    shares: Decimal
    fee: Decimal
    status: str  # MATCHED | MINED | CONFIRMED | RETRYING | FAILED
    ts: int


@dataclass(frozen=True, slots=True)
class Redemption:
    """A confirmed redemption of one condition: ours (`via` rpc or relayer, `attempts` the
    transactions sent) or the venue's auto-redeem operator (`via` operator, `paid` as its
    notification says, `note_id` to drop it)."""

    condition_id: str
    tx_hash: str
    via: str
    paid: Decimal | None = None
    attempts: int = 1
    note_id: str | None = None


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    """The venue's side of startup reconciliation (FM19): open orders, positions (token id →
    shares), recent trades and balance (dollars), taken together at `taken_ms` (epoch ms). A
    snapshot is complete or it does not exist: a failed query raises VenueQueryError."""

    taken_ms: int
    balance_usd: Decimal
    positions: dict[str, Decimal]
    open_orders: tuple[VenueOrder, ...]
    recent_trades: tuple[VenueTrade, ...]
    redeemable: dict[str, Decimal] = field(default_factory=dict)  # resolved, not yet redeemed

    @property
    def open_order_ids(self) -> frozenset[str]:
        return frozenset(o.venue_order_id for o in self.open_orders)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "taken_ms": self.taken_ms,
            "balance_usd": str(self.balance_usd),
            "positions": {t: str(s) for t, s in sorted(self.positions.items())},
            "redeemable": {t: str(s) for t, s in sorted(self.redeemable.items())},
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


class Venue(Protocol):
    """Exactly what the live runner calls on a venue: its lifecycle and clock (the runner), the
    windows (the window tracker), the market data (the feed supervisor), orders (the order
    gateway) and the account (the account watch and startup reconciliation). Order answers come
    back as journal events in `Execution.events` for the engine. Times are epoch ms, money is
    dollars, sizes are shares."""

    # ------------------------------------------------------------ lifecycle, heartbeats, clock

    async def connect(self) -> object:
        """Create the API session; nothing connects before this."""
        ...

    async def close(self) -> None: ...

    async def run_heartbeats(
        self,
        on_failure: Callable[[Exception], None] | None = None,
        on_success: Callable[[], None] | None = None,
    ) -> None:
        """Send the exchange heartbeat until cancelled; every failure goes to `on_failure`, every
        accepted heartbeat to `on_success`."""
        ...

    async def clock_offset_ms(self) -> int:
        """Venue server time minus ours, in ms."""
        ...

    # ------------------------------------------------------------ windows

    async def discover(
        self, asset: str, length_s: int, now_s: float | None = None
    ) -> list[Discovered]:
        """The current and next windows of one instrument: a Listing or NotTradable each."""
        ...

    async def listing(self, slug: str, max_age_s: float | None = None) -> Discovered | None:
        """The window behind `slug` (read at most `max_age_s` ago); None when not listed."""
        ...

    # ------------------------------------------------------------ market data

    async def order_book(self, token_id: str) -> BookSnapshot:
        """The token's book now over REST (after a feed gap); VenueQueryError on failure."""
        ...

    def market_feed(self, token_ids: list[str]) -> FeedSocket: ...

    def price_feed(self, assets: tuple[str, ...] = ()) -> FeedSocket: ...

    async def run_user_stream(self, on_event: Callable[[Received], object] | None = None) -> None:
        """Our orders and trades until the socket closes (FeedClosed)."""
        ...

    # ------------------------------------------------------------ orders

    async def execute(self, payload: Mapping[str, Any]) -> Execution:
        """Send one order (`live.kernel.executors.build_payload`) and follow it to a final
        answer or UNKNOWN."""
        ...

    async def resolve(self, client_order_id: str) -> Execution:
        """Targeted re-query of an UNKNOWN order."""
        ...

    async def cancel(self, venue_order_id: str) -> bool:
        """True if the venue cancelled it; False if it was not open."""
        ...

    async def cancel_all(self) -> None:
        """Cancel every resting order of this wallet."""
        ...

    # ------------------------------------------------------------ account

    async def balance(self) -> Decimal:
        """Collateral in dollars, queried now."""
        ...

    async def refresh_balance(self) -> None:
        """Ask the venue to refresh its cached balance (after fills and settlements)."""
        ...

    async def positions(self) -> Mapping[str, Decimal]:
        """Token id → shares held in open (unresolved) positions."""
        ...

    async def holdings(self) -> tuple[Mapping[str, Decimal], Mapping[str, Decimal]]:
        """(open, redeemable) token id → shares, from one Data API read."""
        ...

    async def trade_statuses(
        self, client_order_id: str, adopted: tuple[str, str, int] | None = None
    ) -> dict[str, str]:
        """Trade id → latest status of an answered order's trades (MATCHED … CONFIRMED/FAILED);
        `adopted` (venue order id, token id, sent at in epoch s) for an order an earlier process
        answered (adopted after a restart)."""
        ...

    # ------------------------------------------------------------ settling to cash

    async def redeem(self, condition_id: str) -> Redemption:
        """Redeem our resolved positions on `condition_id` through the SDK and wait for the
        transaction's confirmation; raises VenueError when it failed or reverted."""
        ...

    async def auto_redemptions(self) -> list[Redemption]:
        """The venue's auto-redeem notifications not yet dropped."""
        ...

    async def drop_notifications(self, note_ids: list[str]) -> None: ...

    async def auto_redeem_approved(self) -> bool:
        """Whether the account approved the venue's auto-redeem operator."""
        ...

    async def snapshot(self, since_ts: int) -> VenueSnapshot:
        """Open orders, positions, trades since `since_ts` and balance, all or nothing."""
        ...
