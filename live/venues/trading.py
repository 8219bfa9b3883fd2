"""Order flow of `PolymarketVenue` (a mixin, split out for size): token check, balance check,
signing once, posting without duplicates, the confirmation loop and the resolution of UNKNOWN
orders. See live/venues/posting.py for the rules and docs/venue.md for the API."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from polymarket.errors import PolymarketError, RequestRejectedError, UserInputError

from live.kernel.domain import OrderSide
from live.kernel.events import OrderAck
from live.venues import account
from live.venues.errors import TokenVerdict, VenueError, VenueQueryError
from live.venues.execution import Execution, ExecutionStatus, build_execution
from live.venues.messages import order_status
from live.venues.posting import (
    OrderRequest,
    Posted,
    Progress,
    merge,
    post_without_duplicates,
)
from live.venues.readiness import NOT_READY, is_not_ready
from live.venues.retry import Backoff, with_backoff
from live.venues.ticks import coarse_worst_price, is_tick_refusal

log = logging.getLogger(__name__)
OPEN_STATUSES = frozenset({"LIVE"})  # DELAYED is "accepted, matching pending" (Progress)
BALANCE_TEXT = "not enough balance"
BALANCE_STALE = "balance_cache_stale"  # the reason code of O3's bounded refresh-and-retry


class OrderFlow:
    """Needs from the host: client, config, policy, watch, executions, api_key, check_token,
    balance, refresh_balance, _clock, _rng, _now_ms, _scrub, _known_orders, _token_locks."""

    client: Any
    config: Any
    policy: Backoff
    watch: Any
    executions: dict[str, Execution]
    readiness: Any
    on_pending: Callable[[OrderAck], None] | None
    renew_credentials: Any
    balance_refreshes: int
    _bought: set[str]
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
        paused = self.readiness.refusal()
        if paused is not None:  # the engine is restarting: refused here, nothing sent (O2)
            return self._keep(build_execution(req, None, None, self._now_ms(), paused))
        if not buy and req.token_id in self._bought:  # O3: the venue's cached shares are stale
            await self.refresh_balance("CONDITIONAL", req.token_id)
        async with self._lock(req.token_id):
            t0 = self._clock()
            try:
                signed = await self._sign(req)
            except (PolymarketError, VenueQueryError) as error:
                reason = f"not sent: {self._scrub(error)}"
                return self._keep(build_execution(req, None, None, self._now_ms(), reason))
            posted = await self._post_refreshing(req, signed, t0)
        return await self._follow(req, posted, t0)

    async def _post_refreshing(self, req: OrderRequest, signed: Any, t0: float) -> Posted | None:
        """Post without duplicates; a "not enough balance / allowance" refusal refreshes the
        venue's balance cache (COLLATERAL for a BUY, the token's CONDITIONAL for a SELL) and
        re-posts the same signed order, at most `balance_retries` times (O3). The venue's
        readiness follows the answer (O2)."""
        refreshes, renewed = 0, False
        while True:
            posted, notes = await post_without_duplicates(
                lambda: self._post(signed), lambda: self._lookup(req, t0), self.policy, self._rng
            )
            for note in notes:
                log.warning("order %s: %s", req.client_order_id, note)
            error = (posted.error or "") if posted is not None else ""
            if posted is not None and posted.http_status == 401 and not renewed:
                renewed = True  # O5: expired credentials or a skewed clock; once
                try:
                    await self.renew_credentials()
                except VenueError as renewal:
                    return Posted(None, error=f"unauthorized, renewal failed: {renewal}")
                continue
            if posted is not None and (posted.not_ready or is_not_ready(None, error)):
                self.readiness.not_ready(error)
                if not posted.not_ready:
                    return Posted(None, error=f"{NOT_READY}: {error}", not_ready=True)
                return posted
            if posted is not None and (posted.accepted or not posted.error):
                self.readiness.ready()
            if posted is None or BALANCE_TEXT not in error.lower():
                return posted
            if refreshes >= self.config.balance_retries:
                reason = f"{BALANCE_STALE}: refused after {refreshes} cache refreshes: {error}"
                return Posted(None, error=reason)
            refreshes += 1
            self.balance_refreshes += 1
            buy = req.side.value == "BUY"
            await self.refresh_balance(
                "COLLATERAL" if buy else "CONDITIONAL", None if buy else req.token_id
            )

    async def _follow(self, req: OrderRequest, posted: Posted | None, t0: float) -> Execution:
        progress = None
        early_ack = False
        if posted is not None and posted.accepted:
            self._known_orders[str(posted.venue_order_id)] = req.client_order_id
            if posted.status == "delayed" and self.on_pending is not None:
                # O1: tell the engine now that the order is accepted, matching pending
                pending_ms = int(self.config.delayed_timeout_s * 1000)
                ack = OrderAck(self._now_ms(), req.client_order_id, str(posted.venue_order_id),
                               matching_pending_ms=pending_ms)  # fmt: skip
                self.on_pending(ack)
                early_ack = True
            progress = Progress(req, posted, fee_rate=self.fee_rate_of)
            progress = await self._confirm(progress, t0)
        execution = build_execution(req, posted, progress, self._now_ms(), None, t0=t0)
        if early_ack:  # the engine has the ack already: a second one is not a transition
            kept = tuple(e for e in execution.events if not isinstance(e, OrderAck))
            execution = dataclasses.replace(execution, events=kept)
        if execution.filled_shares > 0:
            if req.side.value == "BUY":
                self._bought.add(req.token_id)
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
        started = time.monotonic()
        deadline = started + self.config.confirm_timeout_s
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
                progress.venue_status = await self._order_status(vid)
                if progress.venue_status is not None:
                    progress.order_open = progress.venue_status in OPEN_STATUSES
            if progress.delayed():  # accepted, matching pending: follow it longer (O1)
                deadline = max(deadline, started + self.config.delayed_timeout_s)
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

    async def _order_status(self, venue_order_id: str) -> str | None:
        """Order lookup: the plain status (LIVE, DELAYED, MATCHED, UNMATCHED, CANCELED…, with
        the V2 `ORDER_STATUS_` prefix removed, O6), GONE once the venue no longer returns it
        (filled or cancelled orders), None when the lookup itself failed."""
        try:
            order = await self.client.get_order(order_id=venue_order_id)
        except RequestRejectedError as error:
            return "GONE" if error.status == 404 else None
        except PolymarketError as error:
            log.warning("order lookup of %s failed: %s", venue_order_id, error)
            return None
        return order_status(order.status)

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
