"""Adoption at start and on takeover (issue 15): before a LIVE trader may order, its primary engine
takes over what the database says earlier runs owned (live/store/adoption.py) — open positions,
working and UNKNOWN orders, per-window entry counts, the session's realised P&L — and the orders
whose fate the database does not know are answered from the venue's own records (its open orders
and our recent trades: `resolve_from_venue`). The cash side (issue 13) too: a trade the earlier run
booked at its match and that is final at the venue now is answered (`FillSettled`); one still
settling is booked as such and followed by the settlement follower (`settling_executions`); a
receivable whose tokens the venue lists neither as held nor as redeemable any more was redeemed
while nobody watched (`redeemed_unseen`), and the rest are the redemption desk's. The startup
reconciliation then compares the database, now up to date, with the venue exactly as before:
anything they disagree on trips the breaker and leaves the runner an observer; what they agree
on is managed (exits, settlement)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from psycopg_pool import ConnectionPool

from live.kernel.adoption import Adoption
from live.kernel.domain import DUST_SHARES, OrderSide, OrderState, WindowStatus
from live.kernel.events import (
    FillSettled,
    OrderAck,
    OrderCancel,
    OrderFill,
    OrderReject,
    Redeemed,
    Resolved,
)
from live.kernel.order_book import remaining_shares
from live.runner.guarded import EXPECTED
from live.runner.reconciliation import TRADES_SINCE_MS
from live.runner.slots import EngineSlot
from live.store import adoption as store
from live.venues.discovery import Listing
from live.venues.port import Venue, VenueSnapshot, VenueTrade

log = logging.getLogger(__name__)
# Unexpected failures of adoption's best-effort steps (bugs), by step: in /health beside the
# runner's guarded failures.
UNEXPECTED: Counter[str] = Counter()
MATCH_SLACK_MS = 2_000  # a trade of an order sent at t can carry a venue time slightly before t
FINAL_TRADE = "CONFIRMED"
FAILED_TRADE = "FAILED"


@dataclass(frozen=True)
class Settling:
    """An adopted order's trades still settling, in the form the settlement follower follows."""

    client_order_id: str
    venue_order_id: str
    unsettled_trade_ids: tuple[str, ...]
    token_id: str  # for the venue's trade lookup (live/runner/settling.py)
    sent_s: int  # when it was sent, epoch s


@dataclass
class Adopted:
    """What one adoption did: its summary, the venue answers it fed in, and any error."""

    summary: dict[str, Any] = field(default_factory=dict)
    answers: list[Any] = field(default_factory=list)
    settling: list[Settling] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


async def adopt_owned(
    venue: Venue,
    pool: ConnectionPool,
    slot: EngineSlot,
    dispatch: Callable[[EngineSlot, Any], None],
    now_ms: int,
    instance_id: str,
) -> Adopted:
    """Load what the database says we own, adopt it into `slot`'s engine, answer its orders from
    the venue, persist the result. A failed venue query adopts the database's view alone (the
    reconciliation that follows fails and keeps the runner an observer)."""
    mode = str(slot.engine.mode)
    out = Adopted()
    adoption, known, excluded = await asyncio.to_thread(_load, pool, mode, now_ms)
    # The venue's trades may say 0 bps while the taker fee is charged (live/venues/fees.py): the
    # markets of the adopted orders are looked up first, so their trades carry the market's fee.
    await _know_markets(venue, adoption)
    snapshot: VenueSnapshot | None = None
    try:
        snapshot = await venue.snapshot(since_ts=now_ms - TRADES_SINCE_MS)
    except Exception as exc:  # noqa: BLE001 - no venue view: adopt the database's, reconcile fails
        out.error = f"venue snapshot failed: {type(exc).__name__}: {exc}"
    slot.engine.adopt(adoption)
    if snapshot is not None:
        out.answers = resolve_from_venue(adoption, snapshot, known, now_ms)
        out.answers += settled_from_venue(adoption, snapshot, now_ms)
        out.answers += redeemed_unseen(slot.engine, snapshot, now_ms)
    out.answers += await _resolutions(venue, adoption, now_ms)
    for event in out.answers:
        dispatch(slot, event)
    out.settling = settling_executions(slot.engine)
    await slot.persist.flush()
    out.summary = {**adoption.summary(), "venue_answers": [_describe(e) for e in out.answers]}
    out.excluded = excluded + ([] if out.error is None else [{"error": out.error}])
    await asyncio.to_thread(
        _record, pool, instance_id, slot.engine.run_id, out.summary, out.excluded
    )
    log.info(
        "adopted %d position(s), %d working order(s), %d fill(s) settling, $%s receivable; "
        "%d venue answer(s)",
        len(adoption.positions),
        len(adoption.orders),
        len(adoption.unsettled),
        slot.engine.ledger.receivables.total,
        len(out.answers),
    )
    return out


async def _know_markets(venue: Venue, adoption: Adoption) -> None:
    """Look up the market of each window the adopted orders are on (a failure is logged: the
    fee then follows the trade's own figures, as before)."""
    slugs = {o.order.window_slug for o in adoption.orders}
    slugs |= {o.window_slug for o in adoption.settling_orders}
    for slug in sorted(slugs):
        try:
            await venue.listing(slug)
        except EXPECTED as exc:  # the fee falls back to the trade's own figures
            log.warning("market of adopted window %s: %s: %s", slug, type(exc).__name__, exc)
        except Exception:  # noqa: BLE001 - not expected: a bug, logged with its traceback
            UNEXPECTED["market lookup"] += 1
            log.exception("market of adopted window %s: unexpected failure", slug)


async def _resolutions(venue: Venue, adoption: Adoption, now_ms: int) -> list[Any]:
    """The venue's resolution of each adopted window that closed while nobody watched it (the
    window tracker polls only the windows it lists); a failed query leaves it to the tracker."""
    out: list[Any] = []
    held = {p.position.window_slug for p in adoption.positions}
    held |= {o.order.window_slug for o in adoption.orders}
    for aw in adoption.windows:
        if aw.window.slug not in held or aw.window.close_ts > now_ms:
            continue
        if aw.status is WindowStatus.RESOLVED:
            continue
        try:
            found = await venue.listing(aw.window.slug, max_age_s=0)
        except Exception as exc:  # noqa: BLE001 - the tracker keeps polling it
            log.warning("resolution of adopted window %s: %s", aw.window.slug, exc)
            continue
        if isinstance(found, Listing) and found.winner is not None:
            out.append(Resolved(now_ms, aw.window.slug, found.winner))
    return out


def _load(pool: ConnectionPool, mode: str, now_ms: int) -> tuple[Adoption, frozenset[str], list]:
    with pool.connection() as conn:
        adoption, excluded = store.load_adoption(conn, mode, now_ms)
        known = frozenset(
            r[0]
            for r in conn.execute(
                "SELECT venue_order_id FROM orders WHERE mode = %s AND venue_order_id IS NOT NULL",
                (mode,),
            )
        )
    return adoption, known, excluded


def _record(pool: ConnectionPool, instance_id: str, run_id: str, summary: dict, excluded) -> None:
    with pool.connection() as conn:
        store.record_adoption(conn, instance_id, run_id, summary, excluded)


def _describe(event: Any) -> str:
    key = getattr(event, "client_order_id", None) or getattr(event, "window_slug", None)
    return f"{type(event).__name__} {key or event.slug}"


def resolve_from_venue(
    adoption: Adoption, snapshot: VenueSnapshot, known_venue_ids: Iterable[str], now_ms: int
) -> list[Any]:
    """The venue's answers to the adopted working orders, as journal events at `now_ms`.

    An order without a venue id (killed after the post, before the ack) is matched to the trades
    of one venue order unknown to the database, on its token and side, since it was sent; none,
    and nothing open: it never executed (rejected). A known venue order gets its confirmed trades
    not yet booked as fills (one still settling booked as matched: the settlement follower
    follows it), and, no longer open at the venue, its final answer (filled, or the rest
    cancelled). A FAILED trade is no fill."""
    known = set(known_venue_ids)
    trades_by_order: dict[str, list[VenueTrade]] = {}
    for trade in sorted(snapshot.recent_trades, key=lambda t: (t.ts, t.trade_id)):
        trades_by_order.setdefault(trade.venue_order_id, []).append(trade)
    open_ids = set(snapshot.open_order_ids)
    events: list[Any] = []
    for adopted in adoption.orders:
        order = adopted.order
        cid, vid = order.client_order_id, order.venue_order_id
        if vid is None:
            candidates = sorted(
                v
                for v, trades in trades_by_order.items()
                if v not in known
                and any(
                    t.token_id == order.token_id
                    and _side(t.side) is order.side
                    and t.ts >= order.created_ts - MATCH_SLACK_MS
                    for t in trades
                )
            )
            if len(candidates) > 1:
                continue  # ambiguous: the reconciliation reports the unknown trades
            if not candidates:
                reason = "not found at the venue after the restart (no trade since it was sent)"
                events.append(OrderReject(now_ms, cid, reason))
                continue
            vid = candidates[0]
            known.add(vid)
            events.append(OrderAck(now_ms, cid, vid))
        trades = trades_by_order.get(vid, [])
        filled, cost = order.filled_shares, order.notional
        for trade in trades:
            fill_id = f"{trade.trade_id}:{vid}"
            if trade.status == FAILED_TRADE or fill_id in adoption.fill_ids:
                continue
            # A trade still settling is booked as matched (the settlement follower takes it on).
            status = trade.status if trade.status in (FINAL_TRADE, "MINED") else "MATCHED"
            events.append(
                OrderFill(now_ms, cid, fill_id, trade.price, trade.shares, trade.fee, status)
            )
            filled += trade.shares
            cost += trade.shares * trade.price
        if vid in open_ids:
            continue  # resting at the venue: still working
        price = cost / filled if filled > 0 else order.worst_price
        left = remaining_shares(_with(order, filled, cost), price)
        if left >= DUST_SHARES or filled <= 0:
            reason = "final at the venue (found after the restart)"
            if order.state is OrderState.SUBMITTED and not events_for(events, cid, OrderAck):
                events.append(OrderAck(now_ms, cid, vid))
            events.append(OrderCancel(now_ms, cid, reason))
    return events


def events_for(events: list[Any], cid: str, kind: type) -> bool:
    return any(isinstance(e, kind) and e.client_order_id == cid for e in events)


def _with(order: Any, filled: Decimal, cost: Decimal) -> Any:
    return replace(order, filled_shares=filled, avg_price=(cost / filled) if filled > 0 else None)


def _side(side: str) -> OrderSide | None:
    try:
        return OrderSide(side.upper())
    except ValueError:
        return None


def settled_from_venue(adoption: Adoption, snapshot: VenueSnapshot, now_ms: int) -> list[Any]:
    """The adopted fills still settling (booked at their match by an earlier run) whose trade is
    final at the venue now: their `FillSettled` (CONFIRMED, or FAILED: the engine reverses it)."""
    status = {f"{t.trade_id}:{t.venue_order_id}": t.status for t in snapshot.recent_trades}
    events: list[Any] = []
    for fill in adoption.unsettled:
        final = status.get(fill.fill_id)
        if final == FINAL_TRADE:
            events.append(FillSettled(now_ms, fill.client_order_id, fill.fill_id, final))
        elif final == FAILED_TRADE:
            reason = f"trade {fill.fill_id} FAILED (found after the restart)"
            events.append(FillSettled(now_ms, fill.client_order_id, fill.fill_id, final, reason))
    return events


def redeemed_unseen(engine: Any, snapshot: VenueSnapshot, now_ms: int) -> list[Any]:
    """Adopted receivables whose window the venue no longer lists at all (neither held nor
    redeemable): the redemption an earlier run sent (or the venue's operator) went through
    while nobody watched; its `Redeemed` now, before the first balance report (whose balance
    holds that cash already), with what the venue paid unknown. The rest are the desk's."""
    listed = {t for t, s in snapshot.redeemable.items() if s > 0}
    listed |= {t for t, s in snapshot.positions.items() if s > 0}
    receivables = engine.ledger.receivables
    events: list[Any] = []
    for slug, pids in sorted(receivables.windows.items()):
        tokens = {receivables.pending[p].token_id for p in pids}
        if not tokens & listed:
            events.append(Redeemed(now_ms, slug, None, "", "none", 0))
    return events


def settling_executions(engine: Any) -> list[Settling]:
    """The primary's fills still settling after the adoption, per order, for the follower."""
    by_order: dict[str, list[str]] = {}
    for fill in engine.orders.unsettled.values():
        by_order.setdefault(fill.client_order_id, []).append(fill.fill_id)
    out = []
    for cid, fill_ids in sorted(by_order.items()):
        order = engine.orders.get(cid)
        vid = order.venue_order_id if order is not None else None
        if not vid:
            continue  # no venue id: nothing to ask the venue about (assertion 2 alerts it)
        trades = tuple(sorted(f.removesuffix(f":{vid}") for f in fill_ids))
        out.append(Settling(cid, vid, trades, order.token_id, order.created_ts // 1000))
    return out
