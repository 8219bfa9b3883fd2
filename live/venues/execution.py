"""The outcome of one order at the venue, as journal events for the engine (live/journal/codec.py).

Accepted: order_ack, one order_fill per matched fill with its trade status (CONFIRMED, or MATCHED /
MINED: filled, settlement pending — the runner follows it) (the venue's price and size; fill id =
trade id + order id, so replays are idempotent; every event is stamped with the time the adapter
learned it, the trade's own time stays in `VenueTrade.ts`), then order_cancel when a FAK/FOK order
ended short by more than dust, or order_unknown when no final answer came within the confirmation
timeout. Refused (by the venue or before sending): order_reject with the reason. Fate unknown (the
post could not be resolved): order_unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from live.kernel.domain import ZERO
from live.kernel.events import OrderAck, OrderCancel, OrderFill, OrderReject, OrderUnknown
from live.venues.posting import OrderRequest, Posted, Progress, filled_totals


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """The post's outcome in short: accepted with an order id, or an error text."""

    ok: bool
    venue_order_id: str | None
    status: str | None = None  # live | matched | delayed | unmatched
    error: str | None = None
    trade_ids: tuple[str, ...] = ()


class ExecutionStatus(StrEnum):
    FILLED = "FILLED"  # filled up to dust
    PARTIALLY_FILLED = "PARTIALLY_FILLED"  # some filled, the rest cancelled by the venue
    CANCELLED = "CANCELLED"  # nothing filled (e.g. every trade FAILED)
    RESTING = "RESTING"  # a GTC order working on the book
    REJECTED = "REJECTED"  # refused by the venue, or not sent (token / balance / signing)
    UNKNOWN = "UNKNOWN"  # no final answer within the confirmation timeout


@dataclass(frozen=True, slots=True)
class Execution:
    client_order_id: str
    status: ExecutionStatus
    request: OrderRequest
    posted: Posted | None
    venue_order_id: str | None
    filled_shares: Decimal
    avg_price: Decimal | None
    fee: Decimal
    events: tuple[Any, ...]
    reason: str | None = None
    failed_trade_ids: tuple[str, ...] = ()
    sent_at: float | None = None
    unsettled_trade_ids: tuple[str, ...] = ()  # matched, not yet CONFIRMED: the runner follows

    def place_result(self) -> PlaceResult:
        """The post's outcome without the journal events."""
        posted = self.posted
        return PlaceResult(
            ok=posted is not None and posted.accepted,
            venue_order_id=self.venue_order_id,
            status=(posted.status if posted is not None and posted.accepted else None)
            or self.status.value.lower(),
            error=self.reason,
            trade_ids=posted.trade_ids if posted is not None else (),
        )


def fill_id_of(trade_id: str, venue_order_id: str) -> str:
    """Our fill id: the trade's id and our order's (a trade can fill several of our orders)."""
    return f"{trade_id}:{venue_order_id}"


def build_execution(
    req: OrderRequest,
    posted: Posted | None,
    progress: Progress | None,
    now_ms: int,
    refused: str | None,
    *,
    t0: float | None = None,
) -> Execution:
    """Journal events and totals from what the post and the confirmation loop learned."""
    cid = req.client_order_id

    def done(status: ExecutionStatus, events: list[Any], reason: str | None, **kw: Any):
        return Execution(
            client_order_id=cid, status=status, request=req, posted=posted,
            venue_order_id=posted.venue_order_id if posted else None,
            filled_shares=kw.get("shares", ZERO), avg_price=kw.get("avg"),
            fee=kw.get("fee", ZERO), events=tuple(events), reason=reason,
            failed_trade_ids=kw.get("failed", ()), sent_at=t0,
            unsettled_trade_ids=kw.get("unsettled", ()),
        )  # fmt: skip

    if refused is not None:
        return done(ExecutionStatus.REJECTED, [OrderReject(now_ms, cid, refused)], refused)
    if posted is None:
        reason = "order post unresolved after retries and a targeted lookup"
        return done(ExecutionStatus.UNKNOWN, [OrderUnknown(now_ms, cid, reason)], reason)
    if not posted.accepted or progress is None:
        reason = posted.error or "rejected"
        return done(ExecutionStatus.REJECTED, [OrderReject(now_ms, cid, reason)], reason)
    vid = str(posted.venue_order_id)
    events: list[Any] = [OrderAck(now_ms, cid, vid)]
    for trade, price, shares, fee in sorted(progress.matched(), key=lambda r: r[0].ts):
        fill_id = fill_id_of(trade.trade_id, vid)
        events.append(OrderFill(now_ms, cid, fill_id, price, shares, fee, trade.status))
    shares, cost, fee = filled_totals(progress)
    avg = (cost / shares) if shares > 0 else None
    totals = {
        "shares": shares,
        "avg": avg,
        "fee": fee,
        "failed": progress.failed_ids(),
        "unsettled": progress.unsettled(),
    }
    if not progress.done() and not progress.answered():
        pending = ", ".join(progress.pending()) or "order still working"
        reason = f"no final confirmation within the timeout: {pending}"
        events.append(OrderUnknown(now_ms, cid, reason))
        return done(ExecutionStatus.UNKNOWN, events, reason, **totals)
    if req.order_type not in ("FAK", "FOK") and progress.order_open:
        return done(ExecutionStatus.RESTING, events, None, **totals)
    if not req.short_of(cost, shares):
        return done(ExecutionStatus.FILLED, events, None, **totals)
    reason = "remainder cancelled by the venue (FAK)" if shares > 0 else "nothing filled"
    events.append(OrderCancel(now_ms, cid, reason))
    status = ExecutionStatus.PARTIALLY_FILLED if shares > 0 else ExecutionStatus.CANCELLED
    return done(status, events, reason, **totals)
