"""Order flow of `PolymarketVenue` (a mixin, split out for size): token check, balance check,
signing once, posting without duplicates, the confirmation loop and the resolution of UNKNOWN
orders. See live/venues/posting.py for the rules and docs/venue.md for the API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from polymarket.errors import PolymarketError, RequestRejectedError, UserInputError

from live.kernel.domain import OrderSide
from live.venues import account
from live.venues.errors import TokenVerdict, VenueError, VenueQueryError
from live.venues.execution import Execution, ExecutionStatus, build_execution
from live.venues.posting import (
    OrderRequest,
    Posted,
    Progress,
    merge,
    post_without_duplicates,
)
from live.venues.retry import Backoff, with_backoff
from live.venues.ticks import coarse_worst_price, is_tick_refusal

log = logging.getLogger(__name__)


class OrderFlow:
    """Needs from the host: client, config, policy, watch, executions, api_key, check_token,
    balance, refresh_balance, _clock, _rng, _now_ms, _scrub, _known_orders, _token_locks."""

    client: Any
    config: Any
    policy: Backoff
    watch: Any
    executions: dict[str, Execution]
    _known_orders: dict[str, str]
    _token_locks: dict[str, asyncio.Lock]
    stale_tick_resigns = 0  # orders re-signed on the coarse grid after a stale-tick refusal

    def _lock(self, token_id: str) -> asyncio.Lock:
        return self._token_locks.setdefault(token_id, asyncio.Lock())

    async def execute(self, payload: Mapping[str, Any]) -> Execution:
        """Validate the token, check the balance (entries), sign once, post without duplicates
        and follow the order to a final answer or UNKNOWN. The Execution carries the journal
        events (order_ack / order_fill / order_cancel / order_reject / order_unknown)."""
        req = OrderRequest.from_payload(dict(payload))
        buy = req.side.value == "BUY"
        # The token check (a fresh Gamma read by default, FM8) and the balance query run at once.
        verdict, available = await asyncio.gather(
            self.check_token(req.token_id), self.balance() if buy else _nothing()
        )
        if verdict is not TokenVerdict.VALID:
            return self._keep(build_execution(req, None, None, self._now_ms(), str(verdict)))
        if buy and available < req.amount:
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

    async def _sign(self, req: OrderRequest) -> Any:
        """Sign a marketable order; a refusal for a stale tick (live/venues/ticks.py) is signed
        once more at the worst price on the grid valid under both ticks."""
        try:
            return await self._sign_at(req, req.worst_price)
        except UserInputError as error:
            if not is_tick_refusal(error):
                raise
            price = coarse_worst_price(req.side.value, req.worst_price)
            self.stale_tick_resigns += 1
            log.warning("order %s: %s; re-signed at %s", req.client_order_id, error, price)
            return await self._sign_at(req, price)

    async def _sign_at(self, req: OrderRequest, worst_price: Decimal) -> Any:
        common = {"token_id": req.token_id, "side": req.side.value, "order_type": req.order_type}
        if req.side.value == "BUY":
            call = lambda: self.client.create_market_order(  # noqa: E731
                amount=str(req.amount), max_price=str(worst_price), **common
            )
        else:
            call = lambda: self.client.create_market_order(  # noqa: E731
                shares=str(req.amount), min_price=str(worst_price), **common
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
                same = fill.token_id == req.token_id and fill.side == req.side.value
                if unknown and fill.role == "TAKER" and same:
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
        answered_at: float | None = None
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
            if progress.answered():  # matched: settlement pending, wait a little for CONFIRMED
                answered_at = answered_at or time.monotonic()
                if time.monotonic() - answered_at >= self.config.match_answer_s:
                    return progress
            left = deadline - time.monotonic()
            if left <= 0:
                return progress
            await self.watch.wait(min(self.config.poll_interval_s, left))

    async def trade_statuses(
        self, client_order_id: str, adopted: tuple[str, str, int] | None = None
    ) -> dict[str, str]:
        """Trade id → latest status (user channel and REST) of an answered order's trades, for
        following matched fills to CONFIRMED or FAILED; a failed REST poll leaves the channel's
        word (VenueQueryError only if neither knows the trades). `adopted` (venue order id,
        token id, sent at in epoch s) names an order an earlier process answered."""
        execution = self.executions.get(client_order_id)
        if execution is not None and execution.posted is not None:
            token_id, vid = execution.request.token_id, str(execution.venue_order_id)
            since = int(execution.sent_at or self._clock()) - 2
        elif adopted is not None:
            vid, token_id, sent_s = adopted
            since = sent_s - 2
        else:
            raise VenueError(f"no answered order {client_order_id} to follow")
        rest: list = []
        try:
            rest = await account.trade_views(
                self.client, self.policy, self.api_key, token_id=token_id, after_s=since
            )
        except VenueQueryError as error:
            log.warning("settlement poll of %s failed: %s", vid, error)
        views = merge(self.watch.for_order(vid), rest)
        return {
            tid: view.status
            for tid, view in views.items()
            if any(f.venue_order_id == vid for f in view.fills)
        }

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
        """A resting GTC limit order (makers; also used to prove heartbeats keep orders). The
        SDK signs a limit order against its CACHED market tick (10 min, polymarket-client 0.14.0
        _internal/actions/orders/limit.py + cache.py): a venue refusal for the tick is posted
        once more at the price on the grid valid under both ticks (live/venues/ticks.py)."""
        posted = await self._post_limit(token_id, side, price, size, client_order_id)
        if posted is not None and not posted.accepted and is_tick_refusal(posted.error or ""):
            coarse = coarse_worst_price(side, price)
            self.stale_tick_resigns += 1
            log.warning("limit %s: %s; re-sent at %s", client_order_id, posted.error, coarse)
            posted = await self._post_limit(token_id, side, coarse, size, client_order_id)
        if posted is None:
            raise VenueError(f"limit order {client_order_id}: fate unknown after retries")
        if posted.accepted:
            self._known_orders[str(posted.venue_order_id)] = client_order_id
        return posted

    async def _post_limit(
        self, token_id: str, side: str, price: Decimal, size: Decimal, client_order_id: str
    ) -> Posted | None:
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
        return posted


async def _nothing() -> None:
    return None
