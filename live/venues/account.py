"""Account queries over the SDK: balance, positions (Data API), open orders, our trades, and the
order heartbeat. Every query runs under bounded backoff and raises VenueQueryError on failure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from polymarket.errors import OrderHeartbeatMismatchError, PolymarketError, RequestRejectedError

from live.kernel.domain import DUST_SHARES
from live.venues.errors import VenueError
from live.venues.fees import RateOf, fill_fee
from live.venues.messages import TradeView, trade_view
from live.venues.port import VenueOrder, VenueTrade
from live.venues.retry import Backoff, with_backoff

log = logging.getLogger(__name__)
USDC_UNITS = Decimal(10) ** 6


class HeartbeatError(VenueError):
    """A heartbeat could not be sent: the venue will cancel all open orders within 10 s."""


class HeartbeatNotReady(HeartbeatError):
    """A heartbeat answered HTTP 425: the matching engine is restarting (it cancels every open
    order itself); not a failure of ours, so the breaker is left alone (docs/venue.md, O2)."""


async def balance(client: Any, policy: Backoff) -> Decimal:
    """Our collateral (USDC) balance in dollars, queried now."""
    answer = await with_backoff(
        "balance", lambda: client.get_balance_allowance(asset_type="COLLATERAL"), policy
    )
    return Decimal(answer.balance) / USDC_UNITS


async def holdings(client: Any, policy: Backoff) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Token id → shares held (Data API; dust under 0.01 share left out), in one query: the
    open (unresolved) positions, and apart from them the redeemable ones (resolved, waiting to
    be redeemed: winners and losers alike stay listed until then)."""

    async def query() -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        open_: dict[str, Decimal] = {}
        redeemable: dict[str, Decimal] = {}
        async for page in client.list_positions():
            for row in page.items:
                held = redeemable if row.redeemable else open_
                token = str(row.asset_id)
                held[token] = held.get(token, Decimal(0)) + Decimal(row.current_size)
        return _no_dust(open_), _no_dust(redeemable)

    return await with_backoff("positions", query, policy)


def _no_dust(held: dict[str, Decimal]) -> dict[str, Decimal]:
    return {token: shares for token, shares in held.items() if shares >= DUST_SHARES}


async def positions(client: Any, policy: Backoff) -> dict[str, Decimal]:
    """Token id → shares of the open (not redeemable) positions."""
    return (await holdings(client, policy))[0]


async def open_orders(
    client: Any, policy: Backoff, token_id: str | None = None
) -> list[VenueOrder]:
    async def query() -> list[VenueOrder]:
        out = []
        async for page in client.list_open_orders(asset_id=token_id):
            for o in page.items:
                out.append(
                    VenueOrder(
                        venue_order_id=o.id,
                        token_id=str(o.asset_id),
                        side=str(o.side),
                        price=Decimal(o.price),
                        size=Decimal(o.original_size),
                        filled=Decimal(o.size_matched),
                    )
                )
        return out

    return await with_backoff("open_orders", query, policy)


def sdk_trade_view(trade: Any, api_key: str) -> TradeView:
    """An SDK `ClobTrade` → TradeView, through the wire shape `trade_view` reads."""
    return trade_view(
        {
            "id": trade.id,
            "status": trade.status,
            "asset_id": str(trade.asset_id),
            "side": trade.side,
            "price": str(trade.price),
            "size": str(trade.size),
            "fee_rate_bps": str(trade.fee_rate_bps),
            "trader_side": trade.trader_side,
            "taker_order_id": trade.taker_order_id,
            "match_time": str(int(trade.matched_at.timestamp())),
            "maker_orders": [
                {
                    "order_id": m.order_id,
                    "owner": m.owner,
                    "asset_id": str(m.asset_id),
                    "side": str(m.side),
                    "price": str(m.price),
                    "matched_amount": str(m.matched_amount),
                }
                for m in trade.maker_orders
            ],
        },
        api_key,
    )


async def trade_views(
    client: Any,
    policy: Backoff,
    api_key: str,
    *,
    token_id: str | None = None,
    after_s: int | None = None,
) -> list[TradeView]:
    """Our trades (every page), optionally touching one token and since `after_s` (unix s).

    A token filter is applied here, not by the venue: its `asset_id` filter matches the trade's
    top-level (taker) token, and a cross-matched trade (BUY Up against BUY Down) carries our
    maker fill on the OTHER token of the market (see messages.OurFill). A trade is kept when
    its token or the token of any of our fills in it is `token_id`."""

    def touches(view: TradeView) -> bool:
        return token_id is None or token_id in {view.token_id, *(f.token_id for f in view.fills)}

    async def query() -> list[TradeView]:
        out = []
        after = None if after_s is None else str(max(after_s, 0))
        async for page in client.list_account_trades(after=after):
            out.extend(v for v in (sdk_trade_view(t, api_key) for t in page.items) if touches(v))
        return out

    return await with_backoff("trades", query, policy)


def venue_trades(views: list[TradeView], rate_of: RateOf | None = None) -> list[VenueTrade]:
    """One VenueTrade per fill of ours (a trade can fill several of our orders as maker); the
    fee follows live/venues/fees.py with the market's rate from `rate_of`."""
    return [
        VenueTrade(
            trade_id=v.trade_id,
            venue_order_id=f.venue_order_id,
            token_id=f.token_id or v.token_id,
            side=f.side or v.side,
            price=f.price,
            shares=f.shares,
            fee=fill_fee(f, v.token_id, rate_of),
            status=v.status,
            ts=v.ts,
        )
        for v in views
        for f in v.fills
    ]


class Heartbeat:
    """Order heartbeats: once the first is accepted, the venue cancels ALL our open orders if
    none arrives for 10 s. Sends are serialised and keep the id chain the venue hands back."""

    def __init__(
        self,
        client: Any,
        on_not_ready: Callable[[str], None] | None = None,
        on_unauthorized: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._on_not_ready = on_not_ready
        self._on_unauthorized = on_unauthorized
        self.not_ready = 0
        self._id = ""
        self._lock = asyncio.Lock()
        self.sent = 0
        self.failures = 0
        self.last_error: str | None = None

    async def _beat(self) -> Any:
        try:
            return await self._client.send_order_heartbeat(heartbeat_id=self._id)
        except OrderHeartbeatMismatchError as mismatch:
            return await self._client.send_order_heartbeat(heartbeat_id=mismatch.heartbeat_id)

    async def send(self) -> None:
        """One heartbeat; HeartbeatError if it was not accepted (a stale id is retried once
        with the id the venue expects; a 401 once after deriving the credentials again, O5)."""
        async with self._lock:
            try:
                try:
                    answer = await self._beat()
                except RequestRejectedError as error:
                    if error.status != 401 or self._on_unauthorized is None:
                        raise
                    await self._on_unauthorized()
                    answer = await self._beat()
            except VenueError as error:  # the renewal itself failed
                self.failures += 1
                self.last_error = str(error)
                raise HeartbeatError(f"heartbeat not accepted: {self.last_error}") from error
            except PolymarketError as error:
                text = f"{type(error).__name__}: {error}"
                if getattr(error, "status", None) == 425:
                    self.not_ready += 1
                    if self._on_not_ready is not None:
                        self._on_not_ready(f"heartbeat answered 425: {error}")
                    raise HeartbeatNotReady(f"heartbeat: venue not ready: {text}") from error
                self.failures += 1
                self.last_error = text
                raise HeartbeatError(f"heartbeat not accepted: {self.last_error}") from error
            self._id = answer.heartbeat_id
            self.sent += 1

    async def run(
        self,
        interval_s: float,
        on_failure: Callable[[HeartbeatError], None] | None = None,
        on_success: Callable[[], None] | None = None,
    ) -> None:
        """Send every `interval_s` until cancelled; each failure is reported to `on_failure`
        (the runner trips its breaker), each accepted heartbeat to `on_success` (the runner
        lifts that trip), and the loop keeps trying."""
        while True:
            try:
                await self.send()
            except HeartbeatNotReady as error:
                log.warning("%s", error)
            except HeartbeatError as error:
                log.error("%s", error)
                if on_failure is not None:
                    on_failure(error)
            else:
                if on_success is not None:
                    on_success()
            await asyncio.sleep(interval_s)
