"""Order placement without duplicates, and the confirmation loop.

Posting: the order is signed ONCE (the SDK builds and signs CLOB V2 orders); every retry re-posts
the same signed bytes, which the venue deduplicates by order hash. 429 / 425 mean "not processed":
back off and re-post. A 5xx or a transport failure is ambiguous: a targeted lookup (our open
orders and trades on that token since the send, not already known to us) runs BEFORE any re-post,
so a timed-out POST is resolved, never blindly repeated. Placement is serialised per token, which
keeps that lookup unambiguous.

Confirmation: fills come from the user channel (fed into `TradeWatch`) plus REST polling of our
trades on the token. The venue's match is the answer (issue 13): once every trade of the order is
seen and the order is done, the loop waits up to `match_answer_s` for them to be CONFIRMED, then
answers with the matched fills and their status (MATCHED / MINED: filled, settlement pending; the
runner follows them to CONFIRMED or FAILED). FAILED ones are dropped (reversed) and reported.
Amounts are the venue's (trade sizes), never the requested ones. No answer within the
confirmation timeout (5 s by default) ⇒ UNKNOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from polymarket.errors import PolymarketError, RateLimitError, RequestRejectedError, TransportError

from live.kernel.domain import DUST_SHARES, ZERO, OrderSide
from live.venues.errors import VenueQueryError
from live.venues.fees import RateOf, fill_fee
from live.venues.messages import TradeView, UserOrderEvent
from live.venues.retry import RETRYABLE_STATUS, Backoff, status_of

_STATUS_RANK = {"MATCHED": 0, "MATCHED_NOT_BROADCASTED": 0, "MINED": 1, "RETRYING": 1}
_FINAL = {"CONFIRMED": 2, "FAILED": 2}
DUPLICATE_TEXT = "already exists"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What to post: BUY `amount` is dollars, SELL `amount` is shares; `worst_price` bounds it."""

    client_order_id: str
    token_id: str
    side: OrderSide
    order_type: str
    amount: Decimal
    worst_price: Decimal

    @classmethod
    def from_payload(cls, payload: dict) -> OrderRequest:
        """From `live.kernel.executors.build_payload`."""
        return cls(
            client_order_id=str(payload["client_order_id"]),
            token_id=str(payload["token_id"]),
            side=OrderSide(str(payload["side"]).upper()),
            order_type=str(payload.get("order_type", "FAK")).upper(),
            amount=Decimal(str(payload["amount"])),
            worst_price=Decimal(str(payload["price"])),
        )

    def short_of(self, spent: Decimal, shares: Decimal) -> bool:
        """Whether more than dust of the request is left unfilled."""
        if self.side is OrderSide.SELL:
            return self.amount - shares >= DUST_SHARES
        return (self.amount - spent) / self.worst_price >= DUST_SHARES


@dataclass(frozen=True, slots=True)
class Posted:
    """The venue's answer to the post: accepted (order id) or refused (error)."""

    venue_order_id: str | None
    status: str | None = None  # live | matched | delayed | unmatched
    trade_ids: tuple[str, ...] = ()
    error: str | None = None
    via_lookup: bool = False
    not_ready: bool = False  # every attempt answered 425 / 429: never processed (O2)
    http_status: int | None = None  # the refusal's HTTP status, when it came as one

    @property
    def accepted(self) -> bool:
        return self.venue_order_id is not None


class TradeWatch:
    """The latest status of our trades and orders as the user channel reports them."""

    def __init__(self) -> None:
        self.trades: dict[str, TradeView] = {}
        self.orders: dict[str, UserOrderEvent] = {}
        self._changed = asyncio.Event()

    def on_trade(self, view: TradeView) -> None:
        old = self.trades.get(view.trade_id)
        if old is None or _rank(view.status) >= _rank(old.status):
            self.trades[view.trade_id] = view
        self._changed.set()

    def on_order(self, event: UserOrderEvent) -> None:
        self.orders[event.venue_order_id] = event
        self._changed.set()

    def for_order(self, venue_order_id: str) -> list[TradeView]:
        return [
            t for t in self.trades.values() if any(f.venue_order_id == venue_order_id
                                                   for f in t.fills)
        ]  # fmt: skip

    async def wait(self, timeout_s: float) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)


def _rank(status: str) -> int:
    return _FINAL.get(status, _STATUS_RANK.get(status, 0))


def merge(*groups: list[TradeView]) -> dict[str, TradeView]:
    """Trades by id, keeping the most advanced status seen from any source."""
    out: dict[str, TradeView] = {}
    for group in groups:
        for view in group:
            old = out.get(view.trade_id)
            if old is None or _rank(view.status) > _rank(old.status):
                out[view.trade_id] = view
    return out


Lookup = Callable[[], Awaitable[Posted | None]]


async def post_without_duplicates(
    post: Callable[[], Awaitable[Posted]],
    lookup: Lookup,
    policy: Backoff,
    rng,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[Posted | None, list[str]]:
    """Post (the same signed order on every attempt) with bounded backoff. Returns the answer
    (None = fate unknown) and a log of what happened on each attempt."""
    notes: list[str] = []
    unprocessed = 0  # attempts answered 425 / 429: the venue did not process them
    for attempt in range(policy.max_retries + 1):
        try:
            posted = await post()
        except (RateLimitError, RequestRejectedError) as error:
            status = status_of(error)
            notes.append(f"attempt {attempt + 1}: HTTP {status}: {error}")
            if status not in RETRYABLE_STATUS:
                return Posted(None, error=str(error), http_status=status), notes
            if status in (425, 429):
                unprocessed += 1
            else:  # 5xx: it may have been processed
                found = await _safe_lookup(lookup, notes)
                if found is not None:
                    return found, notes
            retry_after = getattr(error, "retry_after", None)
        except TransportError as error:
            notes.append(f"attempt {attempt + 1}: transport: {error}")
            found = await _safe_lookup(lookup, notes)
            if found is not None:
                return found, notes
            retry_after = None
        else:
            if posted.error and DUPLICATE_TEXT in posted.error:
                notes.append(f"attempt {attempt + 1}: venue already has this order")
                return await _safe_lookup(lookup, notes), notes
            return posted, notes
        if attempt < policy.max_retries:
            await sleep(policy.delay(attempt, retry_after, rng))
    if unprocessed == policy.max_retries + 1:  # never processed: refused, not unknown (O2)
        reason = f"venue not ready: HTTP 425/429 on all {unprocessed} attempts"
        return Posted(None, error=reason, not_ready=True), notes
    found = await _safe_lookup(lookup, notes)
    return found, notes


LOOKUP_FAILURES = (PolymarketError, VenueQueryError, httpx.HTTPError)
unexpected_lookup_errors = 0  # lookups that failed with an error nobody expected (logged)


async def _safe_lookup(lookup: Lookup, notes: list[str]) -> Posted | None:
    """The targeted lookup; a failed lookup proves nothing: the fate stays unknown. Expected
    failures are noted; anything else is logged with its traceback and counted too."""
    global unexpected_lookup_errors
    try:
        found = await lookup()
    except LOOKUP_FAILURES as error:
        notes.append(f"targeted lookup failed: {error}")
        return None
    except Exception as error:  # noqa: BLE001 - logged and counted, the order stays UNKNOWN
        unexpected_lookup_errors += 1
        log.exception("targeted lookup failed unexpectedly")
        notes.append(f"targeted lookup failed unexpectedly: {type(error).__name__}: {error}")
        return None
    notes.append("targeted lookup: " + ("found the order" if found else "nothing found"))
    return found


@dataclass
class Progress:
    """What the confirmation loop knows about one accepted order."""

    request: OrderRequest
    posted: Posted
    trades: dict[str, TradeView] = field(default_factory=dict)
    order_open: bool | None = None  # from the order lookup; None = not asked
    # The order lookup's plain status (LIVE, DELAYED, MATCHED, UNMATCHED, CANCELED…; GONE =
    # not found), None until asked or when the lookup failed.
    venue_status: str | None = None
    fee_rate: RateOf | None = None  # the market's fee schedule by token (live/venues/fees.py)

    def ours(self) -> list[tuple[TradeView, Decimal, Decimal, Decimal]]:
        """(trade, price, shares, fee) of our fills on this order (fee: live/venues/fees.py)."""
        vid = self.posted.venue_order_id
        return [
            (t, f.price, f.shares, fill_fee(f, t.token_id, self.fee_rate))
            for t in self.trades.values()
            for f in t.fills
            if f.venue_order_id == vid
        ]

    def delayed(self) -> bool:
        """Accepted, matching pending (O1): the post said "delayed" and no lookup has seen the
        order leave that state yet."""
        return self.posted.status == "delayed" and self.venue_status in (None, "DELAYED")

    def confirmed(self) -> list[tuple[TradeView, Decimal, Decimal, Decimal]]:
        return [row for row in self.ours() if row[0].status == "CONFIRMED"]

    def matched(self) -> list[tuple[TradeView, Decimal, Decimal, Decimal]]:
        """Our fills the venue matched and has not FAILED (CONFIRMED or still settling)."""
        return [row for row in self.ours() if row[0].status != "FAILED"]

    def unsettled(self) -> tuple[str, ...]:
        """Trade ids of matched fills not yet CONFIRMED on chain."""
        return tuple(sorted({t.trade_id for t, *_ in self.matched() if t.status != "CONFIRMED"}))

    def answered(self) -> bool:
        """The venue's match is the answer (issue 13): every trade of the order is seen (at
        any status) and the order no longer works; on-chain settlement may still follow."""
        seen = {t.trade_id for t, *_ in self.ours()}
        if any(trade_id not in seen for trade_id in self.posted.trade_ids):
            return False
        if (self.posted.status == "matched" or self.venue_status == "MATCHED") and not seen:
            return False  # matched (a delayed post too, O1): its trades are still to be seen
        if self.delayed() or self.order_open is True:
            return False
        return self.request.order_type in ("FAK", "FOK") or self.order_open is False

    def failed_ids(self) -> tuple[str, ...]:
        return tuple(sorted({t.trade_id for t, *_ in self.ours() if t.status == "FAILED"}))

    def pending(self) -> list[str]:
        seen = {t.trade_id: t.status for t, *_ in self.ours()}
        for trade_id in self.posted.trade_ids:
            seen.setdefault(trade_id, "NOT_SEEN")
        return [f"{tid}={status}" for tid, status in seen.items() if _rank(status) < 2]

    def done(self) -> bool:
        """Every trade of the order is final and the order no longer works at the venue."""
        if self.pending():
            return False
        if self.delayed() or self.order_open is True:
            return False
        return self.request.order_type in ("FAK", "FOK") or self.order_open is False


def monotonic_deadline(timeout_s: float) -> float:
    return time.monotonic() + timeout_s


def filled_totals(progress: Progress) -> tuple[Decimal, Decimal, Decimal]:
    """(shares, cost, fee) of the matched fills (CONFIRMED or settling; FAILED ones left out)."""
    rows = progress.matched()
    shares = sum((r[2] for r in rows), ZERO)
    cost = sum((r[1] * r[2] for r in rows), ZERO)
    fee = sum((r[3] for r in rows), ZERO)
    return shares, cost, fee
