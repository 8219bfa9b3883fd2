"""The LIVE venue adapter: Polymarket (or the sandbox) through the official SDK
`polymarket-client` (pinned 0.14.0). Implements the venue port `live.venues.port.Venue`.

Lifecycle: `PolymarketVenue(config)` → `await connect()` (creates API credentials; nothing
connects before the config validated the key) → use → `await close()`. Gamma lookups and the
server time go over plain HTTP (httpx) because the SDK's Gamma model maps outcomes by position
and drops eventStartTime / eventMetadata / cryptoMarketConfig; everything authenticated goes
through the SDK.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx
from eth_account import Account
from polymarket import AsyncSecureClient
from polymarket.errors import PolymarketError

from live.kernel.domain import Asset, Outcome
from live.kernel.events import BookSnapshot
from live.venues import account, sdk_internal
from live.venues.cash import CashFlow
from live.venues.config import SIGNATURE_TYPE_VAR, WALLET_TYPES, VenueConfig
from live.venues.discovery import (
    Discovered,
    Listing,
    NotTradable,
    current_and_next_slugs,
    parse_gamma_market,
)
from live.venues.errors import CredentialError, TokenVerdict, VenueError, VenueQueryError
from live.venues.execution import Execution
from live.venues.messages import Received, rest_book
from live.venues.port import VenueOrder, VenueSnapshot, VenueTrade
from live.venues.posting import TradeWatch
from live.venues.readiness import Readiness
from live.venues.retry import Backoff, with_backoff
from live.venues.session import Session
from live.venues.streams import (
    FeedSocket,
    market_feed,
    price_feed,
    realtime_price_feed,
    user_feed,
)
from live.venues.trading import OrderFlow

log = logging.getLogger(__name__)


class PolymarketVenue(Session, CashFlow, OrderFlow):
    """One account on one venue. Not thread-safe: use it from one event loop."""

    def __init__(
        self,
        config: VenueConfig,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.urls = config.urls()
        self.policy = Backoff(
            config.max_retries,
            config.backoff_base_s,
            config.backoff_max_s,
            on_unauthorized=self.renew_credentials,
        )
        self.watch = TradeWatch()
        self.executions: dict[str, Execution] = {}
        self._clock = clock
        self._rng = rng or random.Random()
        self._client: Any = None
        self._http: httpx.AsyncClient | None = None
        self._heartbeat: account.Heartbeat | None = None
        self._listings: dict[str, tuple[float, Discovered | None]] = {}
        self._token_index: dict[str, tuple[str, Outcome]] = {}
        self._known_orders: dict[str, str] = {}  # venue order id → client order id
        self._token_locks: dict[str, asyncio.Lock] = {}
        # One transaction submitted at a time: the SDK reads the account's next nonce before it
        # signs, so two concurrent submissions collide ("nonce too low"); confirmations overlap.
        self._tx_submit = asyncio.Lock()
        self.readiness = Readiness(config.restart_pause_s, config.restart_max_s)
        self._bought: set[str] = set()  # tokens bought this session (O3: refresh before selling)
        self.balance_refreshes = 0  # cache refreshes after a balance refusal (O3)
        # Where an early OrderAck goes for a post answered "delayed" (O1): the runner's event
        # queue (live/runner/gateway.py); None: only in the Execution's events.
        self.on_pending: Callable[[Any], None] | None = None
        self._init_session()  # credentials and clock (live/venues/session.py, O5)

    def __repr__(self) -> str:
        return f"PolymarketVenue({self.config!r})"

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> PolymarketVenue:
        """Create the SDK client (derives API credentials with an L1 signature) and check the
        SDK classified the wallet as POLYMARKET_SIGNATURE_TYPE says."""
        self._http = httpx.AsyncClient(timeout=self.config.http_timeout_s)
        try:
            self._client = await self._new_client()
        except PolymarketError as error:
            await self.close()
            raise VenueError(f"cannot create the SDK client: {self._scrub(error)}") from None
        expected = WALLET_TYPES[self.config.signature_type]
        actual = sdk_internal.wallet_type(self._client)
        if actual != expected:
            await self.close()
            raise CredentialError(
                SIGNATURE_TYPE_VAR,
                f"says {self.config.signature_type} ({expected}) but the SDK classifies the "
                f"funder as {actual}",
            )
        self._heartbeat = account.Heartbeat(
            self._client, self.readiness.not_ready, on_unauthorized=self.renew_credentials
        )
        return self

    async def _new_client(self) -> Any:
        key = self.config.key_hex()
        wallet = self.config.funder or Account.from_key(key).address
        return await AsyncSecureClient.create(
            private_key=key, wallet=wallet, environment=self.config.environment()
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> PolymarketVenue:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def client(self) -> Any:
        if self._client is None:
            raise VenueError("venue not connected: call connect() first")
        return self._client

    @property
    def address(self) -> str:
        """The funder (wallet) address."""
        return str(self.client.wallet)

    @property
    def api_key(self) -> str:
        """The public API key id (the user channel's owner id; not a secret by itself)."""
        return self.client.credentials.key

    def _scrub(self, error: object) -> str:
        text = str(error)
        if self.config.private_key is not None:
            raw = self.config.private_key.get_secret_value().removeprefix("0x")
            text = text.replace(raw, "<redacted>")
        return text

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # ------------------------------------------------------------------ discovery

    async def fetch_market(self, slug: str) -> dict[str, Any] | None:
        """The raw Gamma market for `slug`; None when Gamma does not know it (404)."""
        http = self._http or httpx.AsyncClient(timeout=self.config.http_timeout_s)
        self._http = http

        async def query() -> dict[str, Any] | None:
            response = await http.get(f"{self.urls.gamma}/markets/slug/{slug}")
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return response.json()

        return await with_backoff(f"gamma market {slug}", query, self.policy)

    async def listing(self, slug: str, max_age_s: float | None = None) -> Discovered | None:
        """The window behind `slug` (cached up to `max_age_s`, default the token cache)."""
        max_age = self.config.token_cache_s if max_age_s is None else max_age_s
        cached = self._listings.get(slug)
        if cached is not None and time.monotonic() - cached[0] <= max_age:
            return cached[1]
        raw = await self.fetch_market(slug)
        found = None
        if raw is not None:
            found = parse_gamma_market(
                raw,
                fallback_fee_rate=self.config.fallback_fee_rate,
                twap_since_ms=self.config.twap_since_ms,
            )
        self._listings[slug] = (time.monotonic(), found)
        if isinstance(found, Listing):
            self.remember(found)  # its fee rate then prices our fills on it (fee_rate_of)
        return found

    async def discover(
        self, asset: str, length_s: int, now_s: float | None = None
    ) -> list[Discovered]:
        """The current and next windows of an instrument, looked up on Gamma by slug: a
        Listing each, or NotTradable with the reason (not listed, no conditionId, no tokens)."""
        now_s = self._clock() if now_s is None else now_s
        out: list[Discovered] = []
        for slug in current_and_next_slugs(asset, length_s, now_s):
            found = await self.listing(slug, max_age_s=0)
            if found is None:
                found = NotTradable(slug, "not listed on Gamma")
            if isinstance(found, Listing):
                self.remember(found)
            out.append(found)
        return out

    def remember(self, listing: Listing) -> None:
        """Index the window's token ids: the FM8 check compares later lookups against them."""
        w = listing.window
        self._token_index[w.token_up] = (w.slug, Outcome.UP)
        self._token_index[w.token_down] = (w.slug, Outcome.DOWN)

    def slug_of_condition(self) -> dict[str, str]:
        return {
            found.window.condition_id: slug
            for slug, (_, found) in self._listings.items()
            if isinstance(found, Listing)
        }

    # ------------------------------------------------------------------ tokens (FM8)

    async def check_token(self, token_id: str) -> TokenVerdict:
        """Re-read the token's market (cached ≤ token_cache_s, 1 s by default) and confirm the
        token still belongs to the same slug and outcome label."""
        known = self._token_index.get(token_id)
        if known is None:
            return TokenVerdict.UNKNOWN_TOKEN
        slug, outcome = known
        found = await self.listing(slug)
        if not isinstance(found, Listing):
            return TokenVerdict.NOT_TRADABLE
        if found.window.token_for(outcome) != token_id:
            return TokenVerdict.ROTATED
        if found.closed or not found.accepting_orders:
            return TokenVerdict.NOT_TRADABLE
        return TokenVerdict.VALID

    async def cancel(self, venue_order_id: str) -> bool:
        """True if the venue cancelled it; False if it was not open (filled or gone)."""
        answer = await with_backoff(
            "cancel", lambda: self.client.cancel_order(order_id=venue_order_id), self.policy
        )
        return venue_order_id in answer.canceled

    async def cancel_all(self) -> None:
        await with_backoff("cancel_all", self.client.cancel_all, self.policy)

    # ------------------------------------------------------------------ account

    async def balance(self) -> Decimal:
        """Collateral balance in USD, queried now: the venue's cache is refreshed first (its
        `/balance-allowance` answers a snapshot only `/balance-allowance/update` refreshes, O3)."""
        await self.refresh_balance()
        return await account.balance(self.client, self.policy)

    async def refresh_balance(
        self, asset_type: str = "COLLATERAL", token_id: str | None = None
    ) -> None:
        """Ask the venue to refresh its cached balance of COLLATERAL, or of one token's
        CONDITIONAL shares (after fills, before selling shares bought this session); failures
        are logged (the order check then says what the venue thinks)."""
        try:
            await with_backoff(
                "balance refresh",
                lambda: sdk_internal.refresh_balance_allowance(self.client, asset_type, token_id),
                self.policy,
            )
        except VenueQueryError as error:
            log.warning("%s", error)

    def fee_rate_of(self, token_id: str) -> Decimal | None:
        """The market's taker fee rate (Gamma `feeSchedule`) for a known token, else None
        (live/venues/fees.py: the fee rule of our fills)."""
        known = self._token_index.get(token_id)
        cached = self._listings.get(known[0]) if known is not None else None
        if cached is not None and isinstance(cached[1], Listing):
            return cached[1].window.fee_rate
        return self.config.fallback_fee_rate

    async def positions(self) -> Mapping[str, Decimal]:
        return await account.positions(self.client, self.policy)

    async def holdings(self) -> tuple[Mapping[str, Decimal], Mapping[str, Decimal]]:
        return await account.holdings(self.client, self.policy)

    async def open_orders(self) -> list[VenueOrder]:
        return await account.open_orders(self.client, self.policy)

    async def trades(self, since_ts: int) -> list[VenueTrade]:
        """Our fills since `since_ts` (epoch ms), every trade status (only CONFIRMED is final)."""
        views = await account.trade_views(
            self.client, self.policy, self.api_key, after_s=since_ts // 1000
        )
        return account.venue_trades(views, self.fee_rate_of)

    async def snapshot(self, since_ts: int) -> VenueSnapshot:
        """Open orders, positions, our trades since `since_ts` (epoch ms) and balance, for
        startup reconciliation; the first failed query raises VenueQueryError."""
        open_orders = await self.open_orders()
        positions, redeemable = await self.holdings()
        trades = await self.trades(since_ts)
        balance = await self.balance()
        return VenueSnapshot(
            taken_ms=self._now_ms(),
            balance_usd=balance,
            positions=dict(positions),
            open_orders=tuple(open_orders),
            recent_trades=tuple(trades),
            redeemable=dict(redeemable),
        )

    # ------------------------------------------------------------------ heartbeats and clock

    async def heartbeat(self) -> None:
        """Send one order heartbeat; HeartbeatError when it was not accepted."""
        if self._heartbeat is None:
            raise VenueError("venue not connected: call connect() first")
        await self._heartbeat.send()

    async def run_heartbeats(
        self,
        on_failure: Callable[[Exception], None] | None = None,
        on_success: Callable[[], None] | None = None,
    ) -> None:
        """Heartbeats every `heartbeat_interval_s` (5 s) until cancelled; failures and accepted
        heartbeats reported."""
        if self._heartbeat is None:
            raise VenueError("venue not connected: call connect() first")
        await self._heartbeat.run(self.config.heartbeat_interval_s, on_failure, on_success)

    # ------------------------------------------------------------------ market data

    async def order_book(self, token_id: str) -> BookSnapshot:
        """The token's book now, over REST, levels sorted best-first (the runner re-reads the
        books after a feed gap: the socket may have missed deltas). One try; a failure raises
        VenueQueryError."""
        try:
            book = await self.client.get_order_book(token_id=token_id)
        except PolymarketError as error:
            raise VenueQueryError(f"order book {token_id}", self._scrub(error)) from None
        return rest_book(token_id, book)

    def market_feed(self, token_ids: list[str]) -> FeedSocket:
        return market_feed(
            self.urls.ws_market,
            token_ids,
            slug_of_condition=self.slug_of_condition(),
            ping_interval_s=self.config.ws_ping_interval_s,
        )

    def user_feed(self, markets: list[str] | None = None) -> FeedSocket:
        creds = self.client.credentials
        return user_feed(
            self.urls.ws_user,
            creds.key,
            creds.secret,
            creds.passphrase,
            markets=markets,
            ping_interval_s=self.config.ws_ping_interval_s,
        )

    def price_feed(self, assets: tuple[str, ...] = ()) -> FeedSocket:
        """The crypto price stream the config names: public RTDS, or (price_stream=realtime)
        the authenticated gateway with the 60 s Chainlink TWAP channel (live/venues/realtime.py)
        for `assets` (all the engine's assets when empty)."""
        if self.config.price_stream == "realtime":
            creds = self.client.credentials
            names = assets or tuple(a.value for a in Asset)
            return realtime_price_feed(
                self.urls.ws_realtime, creds.key, creds.secret, creds.passphrase,
                [f"{a.lower()}usd" for a in names], ping_interval_s=self.config.ws_ping_interval_s,
            )  # fmt: skip
        return price_feed(self.urls.ws_prices, ping_interval_s=self.config.ws_ping_interval_s)

    async def run_user_stream(self, on_event: Callable[[Received], object] | None = None) -> None:
        """Feed the user channel into the confirmation loop's TradeWatch (and `on_event`)
        until the socket closes (FeedClosed propagates: the runner reconnects and re-reads)."""
        async for received in self.user_feed():
            event = received.event
            if hasattr(event, "fills"):
                self.watch.on_trade(event)
            else:
                self.watch.on_order(event)
            if on_event is not None:
                on_event(received)
