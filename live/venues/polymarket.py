"""The LIVE venue adapter: Polymarket (or the sandbox) through the official SDK
`polymarket-client` (pinned 0.14.0). Implements `live.executors.Venue`.

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
from polymarket.errors import PolymarketError, RequestRejectedError

from live.domain import OrderSide, Outcome
from live.executors import PlaceResult, VenueOrder, VenueTrade
from live.venues import account, sdk_internal
from live.venues.config import SIGNATURE_TYPE_VAR, WALLET_TYPES, VenueConfig
from live.venues.discovery import Listing, NotTradable, current_and_next_slugs, parse_gamma_market
from live.venues.errors import CredentialError, TokenVerdict, VenueError, VenueQueryError
from live.venues.execution import Execution, ExecutionStatus, build_execution
from live.venues.orders import (
    OrderRequest,
    Posted,
    Progress,
    TradeWatch,
    merge,
    post_without_duplicates,
)
from live.venues.reconcile import VenueSnapshot, take_snapshot
from live.venues.retry import Backoff, with_backoff
from live.venues.streams import FeedSocket, market_feed, price_feed, user_feed

log = logging.getLogger(__name__)
Discovered = Listing | NotTradable


class PolymarketVenue:
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
        self.policy = Backoff(config.max_retries, config.backoff_base_s, config.backoff_max_s)
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

    def __repr__(self) -> str:
        return f"PolymarketVenue({self.config!r})"

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> PolymarketVenue:
        """Create the SDK client (derives API credentials with an L1 signature) and check the
        SDK classified the wallet as POLYMARKET_SIGNATURE_TYPE says."""
        key = self.config.key_hex()
        signer = Account.from_key(key).address
        wallet = self.config.funder or signer
        self._http = httpx.AsyncClient(timeout=self.config.http_timeout_s)
        try:
            self._client = await AsyncSecureClient.create(
                private_key=key, wallet=wallet, environment=self.config.environment()
            )
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
        self._heartbeat = account.Heartbeat(self._client)
        return self

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
        return found

    async def discover(self, asset: str, length_s: int, now_s: float | None = None) -> list:
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

    async def validate_token(self, token_id: str) -> bool:
        return await self.check_token(token_id) is TokenVerdict.VALID

    # ------------------------------------------------------------------ orders

    def _lock(self, token_id: str) -> asyncio.Lock:
        return self._token_locks.setdefault(token_id, asyncio.Lock())

    async def execute(self, payload: Mapping[str, Any]) -> Execution:
        """Validate the token, check the balance (entries), sign once, post without duplicates
        and follow the order to a final answer or UNKNOWN. The Execution carries the journal
        events (order_ack / order_fill / order_cancel / order_reject / order_unknown)."""
        req = OrderRequest.from_payload(dict(payload))
        verdict = await self.check_token(req.token_id)
        if verdict is not TokenVerdict.VALID:
            return self._keep(build_execution(req, None, None, self._now_ms(), str(verdict)))
        if req.side.value == "BUY":
            available = await self.balance()
            if available < req.amount:
                reason = f"insufficient_balance: balance={available} needed={req.amount}"
                return self._keep(build_execution(req, None, None, self._now_ms(), reason))
        async with self._lock(req.token_id):
            t0 = self._clock()
            try:
                signed = await self._sign(req)
            except (PolymarketError, VenueQueryError) as error:
                reason = f"not sent: {self._scrub(error)}"
                return self._keep(build_execution(req, None, None, self._now_ms(), reason))
            posted, notes = await post_without_duplicates(
                lambda: self._post(signed), lambda: self._lookup(req, t0), self.policy, self._rng
            )
        for note in notes:
            log.warning("order %s: %s", req.client_order_id, note)
        return await self._follow(req, posted, t0)

    async def _follow(self, req: OrderRequest, posted: Posted | None, t0: float) -> Execution:
        progress = None
        if posted is not None and posted.accepted:
            self._known_orders[str(posted.venue_order_id)] = req.client_order_id
            progress = await self._confirm(Progress(req, posted), t0)
        execution = build_execution(req, posted, progress, self._now_ms(), None, t0=t0)
        if execution.filled_shares > 0:
            await self.refresh_balance()
        return self._keep(execution)

    def _keep(self, execution: Execution) -> Execution:
        self.executions[execution.client_order_id] = execution
        return execution

    async def place(self, payload: Mapping[str, Any]) -> PlaceResult:
        """`Venue.place`: execute and answer with the post's outcome; the full event list is
        in `executions[client_order_id].events`."""
        return (await self.execute(payload)).place_result()

    async def _sign(self, req: OrderRequest) -> Any:
        common = {"token_id": req.token_id, "side": req.side.value, "order_type": req.order_type}
        if req.side.value == "BUY":
            call = lambda: self.client.create_market_order(  # noqa: E731
                amount=str(req.amount), max_price=str(req.worst_price), **common
            )
        else:
            call = lambda: self.client.create_market_order(  # noqa: E731
                shares=str(req.amount), min_price=str(req.worst_price), **common
            )
        return await with_backoff("order metadata + signing", call, self.policy)

    async def _post(self, signed: Any) -> Posted:
        answer = await self.client.post_order(signed)
        if answer.ok:
            return Posted(answer.order_id, answer.status, tuple(answer.trade_ids))
        return Posted(None, error=answer.message)

    async def _lookup(self, req: OrderRequest, t0: float) -> Posted | None:
        """Targeted lookup of a post whose fate is unknown: an order or a taker trade of ours on
        this token, on the same side, since the send, that no other order of ours explains."""
        since = int(t0) - 2
        async for page in self.client.list_open_orders(asset_id=req.token_id):
            for o in page.items:
                fresh = o.created_at.timestamp() >= since
                if o.id not in self._known_orders and o.side == req.side.value and fresh:
                    return Posted(o.id, "live", via_lookup=True)
        views = await account.trade_views(
            self.client, self.policy, self.api_key, token_id=req.token_id, after_s=since
        )
        ids: dict[str, list[str]] = {}
        for view in views:
            for fill in view.fills:
                unknown = fill.venue_order_id not in self._known_orders
                if unknown and fill.role == "TAKER" and view.side == req.side.value:
                    ids.setdefault(fill.venue_order_id, []).append(view.trade_id)
        if len(ids) == 1:
            order_id, trade_ids = next(iter(ids.items()))
            return Posted(order_id, "matched", tuple(trade_ids), via_lookup=True)
        return None

    async def _confirm(self, progress: Progress, t0: float) -> Progress:
        """Poll until every trade is final (or FAILED) and the order is done, or the timeout."""
        req, vid = progress.request, str(progress.posted.venue_order_id)
        quick = Backoff(0, self.policy.base_s, self.policy.max_s)
        deadline = time.monotonic() + self.config.confirm_timeout_s
        while True:
            try:
                rest = await account.trade_views(
                    self.client, quick, self.api_key, token_id=req.token_id, after_s=int(t0) - 2
                )
            except VenueQueryError as error:
                log.warning("confirmation poll of %s failed: %s", vid, error)
                rest = []
            progress.trades = merge(list(progress.trades.values()), self.watch.for_order(vid), rest)
            if req.order_type not in ("FAK", "FOK") or progress.posted.status == "delayed":
                progress.order_open = await self._order_open(vid)
            if progress.done():
                return progress
            left = deadline - time.monotonic()
            if left <= 0:
                return progress
            await self.watch.wait(min(self.config.poll_interval_s, left))

    async def _order_open(self, venue_order_id: str) -> bool | None:
        """Order lookup: True while it works at the venue, False once gone (filled/cancelled
        orders are not returned), None when the lookup itself failed."""
        try:
            order = await self.client.get_order(order_id=venue_order_id)
        except RequestRejectedError as error:
            return False if error.status == 404 else None
        except PolymarketError:
            return None
        return str(order.status).upper() == "LIVE"

    async def resolve(self, client_order_id: str) -> Execution:
        """Targeted re-query of an UNKNOWN order: order lookup, then our trades since the send.
        Only after both find nothing is the order declared not found (rejected)."""
        old = self.executions.get(client_order_id)
        if old is None or old.status is not ExecutionStatus.UNKNOWN:
            raise VenueError(f"no UNKNOWN order {client_order_id} to resolve")
        req, t0 = old.request, old.sent_at or self._clock()
        posted = old.posted
        if posted is None or not posted.accepted:
            posted = await self._lookup(req, t0)
            if posted is None:
                reason = "not found at the venue (order lookup and trades since the send)"
                return self._keep(build_execution(req, None, None, self._now_ms(), reason))
        return await self._follow(req, posted, t0)

    async def place_limit(
        self, token_id: str, side: str, price: Decimal, size: Decimal, client_order_id: str
    ) -> Posted:
        """A resting GTC limit order (makers; also used to prove heartbeats keep orders)."""
        signed = await with_backoff(
            "limit order signing",
            lambda: self.client.create_limit_order(
                token_id=token_id, side=side, price=str(price), size=str(size)
            ),
            self.policy,
        )
        req = OrderRequest(client_order_id, token_id, OrderSide(side.upper()), "GTC", size, price)
        async with self._lock(token_id):
            t0 = self._clock()
            posted, _ = await post_without_duplicates(
                lambda: self._post(signed), lambda: self._lookup(req, t0), self.policy, self._rng
            )
        if posted is None:
            raise VenueError(f"limit order {client_order_id}: fate unknown after retries")
        if posted.accepted:
            self._known_orders[str(posted.venue_order_id)] = client_order_id
        return posted

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
        """Collateral balance in USD, queried now (never cached)."""
        return await account.balance(self.client, self.policy)

    async def refresh_balance(self) -> None:
        """Ask the venue to refresh its cached balance (after fills); failures are logged."""
        try:
            await with_backoff(
                "balance refresh",
                lambda: sdk_internal.refresh_balance_allowance(self.client),
                self.policy,
            )
        except VenueQueryError as error:
            log.warning("%s", error)

    async def positions(self) -> Mapping[str, Decimal]:
        return await account.positions(self.client, self.policy)

    async def open_orders(self) -> list[VenueOrder]:
        return await account.open_orders(self.client, self.policy)

    async def trades(self, since_ts: int) -> list[VenueTrade]:
        """Our fills since `since_ts` (epoch ms), every trade status (only CONFIRMED is final)."""
        views = await account.trade_views(
            self.client, self.policy, self.api_key, after_s=since_ts // 1000
        )
        return account.venue_trades(views)

    async def snapshot(self, since_ts: int) -> VenueSnapshot:
        """Open orders, positions, recent trades and balance for startup reconciliation."""
        return await take_snapshot(self, since_ts, self._now_ms())

    # ------------------------------------------------------------------ heartbeats and clock

    async def heartbeat(self) -> None:
        """Send one order heartbeat; HeartbeatError when it was not accepted."""
        if self._heartbeat is None:
            raise VenueError("venue not connected: call connect() first")
        await self._heartbeat.send()

    async def run_heartbeats(self, on_failure: Callable[[Exception], None] | None = None) -> None:
        """Heartbeats every `heartbeat_interval_s` (5 s) until cancelled; failures reported."""
        if self._heartbeat is None:
            raise VenueError("venue not connected: call connect() first")
        await self._heartbeat.run(self.config.heartbeat_interval_s, on_failure)

    async def clock_offset_ms(self) -> int:
        """Venue server time minus ours, in ms (the venue reports whole seconds: ±500 ms)."""
        http = self._http or httpx.AsyncClient(timeout=self.config.http_timeout_s)
        self._http = http
        before = self._clock()

        async def query() -> int:
            response = await http.get(f"{self.urls.clob}/time")
            response.raise_for_status()
            return int(Decimal(str(response.json())))

        server = await with_backoff("server time", query, self.policy)
        after = self._clock()
        server_ms = server * 1000 if server < 10**11 else server
        return server_ms - int((before + after) / 2 * 1000)

    # ------------------------------------------------------------------ streams

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

    def price_feed(self) -> FeedSocket:
        return price_feed(self.urls.ws_prices, ping_interval_s=self.config.ws_ping_interval_s)

    async def run_user_stream(self, on_event: Callable[[Any], None] | None = None) -> None:
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
