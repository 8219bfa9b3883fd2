"""Adoption (issue 15): what a stopped engine owned, handed to the engine that takes over.

`export(engine)` takes an `Adoption` of an engine at any instant; `adopt(engine, adoption)` makes a
fresh engine own it before it processes anything: open positions with their stops, take-profits,
trailing peaks and lifecycle state; working and UNKNOWN orders with their confirmation deadlines;
the windows they are on with their status (and the timers still to fire); the entry orders per
window (the two-per-window rule); the session's realised net P&L (so `max_session_loss` counts
what earlier runs of the session lost); the signals already decided (no second order for one
signal). The cash side too (issue 13): the fills matched but not yet CONFIRMED (with the final
orders they belong to: exits of their shares stay held, re-entry on their window stays blocked
until the new run's settlement follower sees them CONFIRMED or FAILED), and the receivables —
resolved positions, closed, whose redemption is not yet confirmed (PENDING `redemptions` rows;
REDEEMED ones too, recent, which the venue's lagging index may still list) — so a runner killed
between a resolution and its redemption gets the cash after the restart. The runner builds the
same `Adoption` from the database (live/store/adoption.py) and cross-checks it with the venue
first.

Pure: the adopted engine's clock is the adoption's `now`; nothing here reads a clock or a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from live.kernel.domain import (
    TERMINAL_ORDER_STATES,
    ZERO,
    Fill,
    Order,
    OrderPurpose,
    OrderState,
    Outcome,
    Position,
    PositionState,
    RiskParams,
    Window,
    WindowStatus,
)
from live.kernel.order_book import CONFIRM_TIMEOUT_MS
from live.kernel.positions import Track
from live.kernel.receivables import PENDING, REDEEMED
from live.kernel.records import RedemptionRecord
from live.kernel.settlement import OurResolution
from live.kernel.timers import (
    CLOSE_WINDOW,
    OPEN_WINDOW,
    OUR_RESOLUTION,
    OURS_AFTER_CLOSE_MS,
    STRATEGY_DUE,
)

DAY_MS = 86_400_000
# `engine` below is a live.kernel.engine.Engine (typed Any: the engine imports this module).


def session_start(ts: int) -> int:
    """The session is the UTC trading day: it starts at 00:00 UTC of the day of `ts` (ms)."""
    return ts - ts % DAY_MS


@dataclass(frozen=True, slots=True)
class AdoptedPosition:
    """An open position and the engine-side facts its exits need (the trailing peak above all)."""

    position: Position
    bought: Decimal
    sold: Decimal = ZERO
    sell_value: Decimal = ZERO
    peak_bid: Decimal = ZERO
    trigger_price: Decimal | None = None
    intended_price: Decimal | None = None
    exit_retry_at: int = 0
    marked_ts: int | None = None  # None: may be marked at once
    unexitable_noted: bool = False
    exit_inputs: Mapping[str, Any] = field(default_factory=dict)  # its exit's audit inputs


@dataclass(frozen=True, slots=True)
class AdoptedOrder:
    """A working (or UNKNOWN) order, its confirmation deadline (None: UNKNOWN, no deadline) and,
    for an entry, the exit parameters its position will carry."""

    order: Order
    deadline: int | None
    position_risk: RiskParams | None = None


@dataclass(frozen=True, slots=True)
class AdoptedWindow:
    window: Window
    status: WindowStatus = WindowStatus.UPCOMING
    winner: Outcome | None = None
    ours: OurResolution | None = None


@dataclass(frozen=True, slots=True)
class Adoption:
    """What an engine owned at `now`. `timers` are (due, kind, slug, strategy name or None);
    None means "derive them from the windows' status at `now`" (the database path). `cash` and
    `initial_cash` are our ledger's (None when the venue's next balance report decides, LIVE).
    `sequences` are the id counters of each run id (a run resumed under its own id goes on
    counting; a new run id starts its own)."""

    now: int
    session_start: int
    windows: tuple[AdoptedWindow, ...] = ()
    positions: tuple[AdoptedPosition, ...] = ()
    orders: tuple[AdoptedOrder, ...] = ()
    entries_by_window: Mapping[str, int] = field(default_factory=dict)
    realised_net: Decimal = ZERO  # the session's closed positions not adopted here
    signal_ids: frozenset[str] = frozenset()
    approved: Mapping[str, int] = field(default_factory=dict)
    fill_ids: frozenset[str] = frozenset()
    timers: tuple[tuple[int, str, str, str | None], ...] | None = None
    cash: Decimal | None = None
    initial_cash: Decimal | None = None
    sequences: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # The cash side (issue 13): fills still MATCHED/MINED, the final orders they belong to (a
    # working one is in `orders`), and redemption rows (PENDING: receivables; REDEEMED: recent).
    unsettled: tuple[Fill, ...] = ()
    settling_orders: tuple[Order, ...] = ()
    redemptions: tuple[RedemptionRecord, ...] = ()
    # Closed positions a working or settling order still refers to: a late fill of that order
    # meets the closed position after a restart as it would have without one.
    closed_positions: tuple[AdoptedPosition, ...] = ()
    # The drawdown guard (live/kernel/drawdown.py): the session's peak equity and whether it
    # tripped the breaker (an in-process handover keeps both; the database path starts afresh).
    drawdown_peak: Decimal | None = None
    drawdown_tripped: bool = False

    def summary(self) -> dict[str, object]:
        """What was adopted, for the log, the alert and the `adoptions` row."""
        return {
            "positions": [p.position.position_id for p in self.positions],
            "orders": [o.order.client_order_id for o in self.orders],
            "unknown_orders": [
                o.order.client_order_id for o in self.orders if o.order.state is OrderState.UNKNOWN
            ],
            "windows": [w.window.slug for w in self.windows],
            "entries_by_window": dict(self.entries_by_window),
            "realised_net": str(self.realised_net),
            "session_start": self.session_start,
            "unsettled_fills": [f.fill_id for f in self.unsettled],
            "receivables": [r.position_id for r in self.redemptions if r.status == PENDING],
            "receivable_usd": str(
                sum((r.expected_usd for r in self.redemptions if r.status == PENDING), ZERO)
            ),
        }


class AdoptionError(ValueError):
    """The adoption cannot be applied (the engine already holds state, or ids collide)."""


def export(engine: Any) -> Adoption:
    """Everything `engine` owns now, as an Adoption (a copy: later events do not change it)."""
    now = engine.now
    start = session_start(now)
    orders, positions = engine.orders, engine.positions
    adopted_positions = tuple(
        _adopted_position(pos, positions.tracks[pos.position_id])
        for pos in positions.open_positions()
    )
    adopted_orders = tuple(
        AdoptedOrder(
            order,
            orders.deadlines.get(order.client_order_id),
            orders._position_risk.get(order.client_order_id),
        )
        for order in orders.working()
    )
    realised = engine.entries.prior_realised if engine.entries.prior_session == start else ZERO
    realised += sum(
        (
            p.pnl_net
            for p in positions
            if p.pnl_net is not None and p.closed_ts is not None and p.closed_ts >= start
        ),
        start=ZERO,
    )
    timers = tuple(
        (due, kind, key[0] if kind == STRATEGY_DUE else key, key[1].name)
        if kind == STRATEGY_DUE
        else (due, kind, key, None)
        for due, _, kind, key in sorted(engine.timers.heap)
    )
    sequences = dict(orders.sequences)
    sequences[engine.run_id] = (orders._order_seq, orders._position_seq)
    working = {o.order.client_order_id for o in adopted_orders}
    unsettled = tuple(orders.unsettled.values())
    settling_orders = tuple(
        orders.orders[cid]
        for cid in dict.fromkeys(f.client_order_id for f in unsettled)
        if cid not in working
    )
    held = [o.order for o in adopted_orders] + list(settling_orders)
    held_signals = {o.signal_id for o in held if o.purpose is OrderPurpose.ENTRY}
    receivables = engine.ledger.receivables
    referenced = {o.order.position_id for o in adopted_orders} | {
        o.position_id for o in settling_orders
    }
    closed_positions = tuple(
        _adopted_position(p, positions.tracks[p.position_id])
        for p in positions
        if p.state is PositionState.CLOSED and p.position_id in referenced
    )
    return Adoption(
        drawdown_peak=engine.drawdown.peak,
        drawdown_tripped=engine.drawdown.tripped and engine.breaker.tripped,
        now=now,
        session_start=start,
        windows=tuple(
            AdoptedWindow(ws.window, ws.status, ws.winner, ws.ours)
            for ws in engine.market.windows.values()
        ),
        positions=adopted_positions,
        orders=adopted_orders,
        entries_by_window=dict(orders.entries_by_window),
        realised_net=realised,
        signal_ids=frozenset(engine.entries.signal_ids),
        # assertion 1 counts the entry orders the engine holds: only the signals of the entry
        # orders adopted (working or settling), as the database path loads them
        approved={sid: ts for sid, ts in engine.entries.approved.items() if sid in held_signals},
        fill_ids=frozenset(orders._fill_ids),
        timers=timers,
        cash=engine.ledger.cash,
        initial_cash=engine.ledger.initial_cash,
        sequences=sequences,
        unsettled=unsettled,
        settling_orders=settling_orders,
        redemptions=tuple(receivables.pending.values()) + tuple(receivables.redeemed.values()),
        closed_positions=closed_positions,
    )


def _adopted_position(pos: Position, track: Track) -> AdoptedPosition:
    return AdoptedPosition(
        position=pos,
        bought=track.bought,
        sold=track.sold,
        sell_value=track.sell_value,
        peak_bid=track.peak_bid,
        trigger_price=track.trigger_price,
        intended_price=track.intended_price,
        exit_retry_at=track.exit_retry_at,
        marked_ts=track.marked_ts,
        unexitable_noted=track.unexitable_noted,
        exit_inputs=dict(track.exit),
    )


def _hold(positions: Any, ap: AdoptedPosition, close_ts: int) -> None:
    """Put the adopted position and its track in the position book."""
    pos = ap.position
    positions.positions[pos.position_id] = pos
    positions.tracks[pos.position_id] = Track(
        close_ts=close_ts,
        bought=ap.bought,
        sold=ap.sold,
        sell_value=ap.sell_value,
        peak_bid=ap.peak_bid,
        trigger_price=ap.trigger_price,
        intended_price=ap.intended_price,
        exit_retry_at=ap.exit_retry_at,
        unexitable_noted=ap.unexitable_noted,
        exit=dict(ap.exit_inputs),
    )
    if ap.marked_ts is not None:
        positions.tracks[pos.position_id].marked_ts = ap.marked_ts


def adopt(engine: Any, adoption: Adoption) -> None:
    """Make `engine` own `adoption`: a fresh engine, or one that has only watched (an observer
    taking over, no orders or positions of its own). Positions and orders keep their ids and run
    ids (their rows are updated in place); new ids use the engine's run id. Windows the engine
    already knows keep its own status and timers."""
    if any(True for _ in engine.orders) or any(True for _ in engine.positions):
        raise AdoptionError("adopt into a fresh engine only (it already holds orders/positions)")
    market, orders, positions = engine.market, engine.orders, engine.positions
    engine.now = max(engine.now, adoption.now)
    new_slugs: set[str] = set()
    seen_resolved: set[str] = set()  # resolved in this engine's view, not in the adoption's
    for aw in adoption.windows:
        if aw.window.slug in market.windows:
            # an engine that watched the window (an observer) has the newer view
            if aw.winner is None and market.windows[aw.window.slug].winner is not None:
                seen_resolved.add(aw.window.slug)
            continue
        market.list_window(aw.window)
        ws = market.windows[aw.window.slug]
        ws.status, ws.winner, ws.ours = aw.status, aw.winner, aw.ours
        new_slugs.add(aw.window.slug)
    _schedule(engine, adoption, new_slugs)
    for ap in adoption.positions:
        pos = ap.position
        if pos.state is PositionState.CLOSED or pos.position_id in positions.positions:
            raise AdoptionError(f"position {pos.position_id} is closed or adopted twice")
        if pos.window_slug not in market.windows:
            raise AdoptionError(f"position {pos.position_id}: window {pos.window_slug} unknown")
        _hold(positions, ap, market.windows[pos.window_slug].window.close_ts)
        positions.by_token.setdefault(pos.token_id, {})[pos.position_id] = None
        positions._current[(pos.strategy, pos.window_slug, pos.outcome)] = pos.position_id
    closed_net = ZERO
    for ap in adoption.closed_positions:
        pos = ap.position
        if pos.state is not PositionState.CLOSED or pos.position_id in positions.positions:
            raise AdoptionError(f"position {pos.position_id} is open or adopted twice")
        ws = market.windows.get(pos.window_slug)
        _hold(positions, ap, ws.window.close_ts if ws is not None else pos.updated_ts)
        if pos.closed_ts is not None and pos.closed_ts >= adoption.session_start:
            closed_net += pos.pnl_net or ZERO  # realised_net counts it (closed this session)
    for ao in adoption.orders:
        order = ao.order
        if order.state in TERMINAL_ORDER_STATES or order.client_order_id in orders.orders:
            raise AdoptionError(f"order {order.client_order_id} is final or adopted twice")
        if order.window_slug not in market.windows:
            raise AdoptionError(f"order {order.client_order_id}: window {order.window_slug}")
        if order.state is OrderState.NEW:  # never reached the venue's hands: sent, no answer
            order = replace(order, state=OrderState.SUBMITTED)
        orders.orders[order.client_order_id] = order
        orders._working[order.client_order_id] = None
        orders._track_unknown(order)
        if order.state is not OrderState.UNKNOWN:
            deadline = ao.deadline
            orders.deadlines[order.client_order_id] = (
                order.created_ts + CONFIRM_TIMEOUT_MS if deadline is None else deadline
            )
        if ao.position_risk is not None:
            orders._position_risk[order.client_order_id] = ao.position_risk
        if order.purpose is OrderPurpose.ENTRY and order.signal_id:
            engine.entries.approved.setdefault(order.signal_id, order.created_ts)
    _adopt_cash_side(engine, adoption)
    for slug, count in adoption.entries_by_window.items():
        orders.entries_by_window[slug] = max(orders.entries_by_window.get(slug, 0), count)
    engine.entries.signal_ids |= adoption.signal_ids
    for signal_id, ts in adoption.approved.items():
        engine.entries.approved.setdefault(signal_id, ts)
    orders._fill_ids |= adoption.fill_ids
    orders.sequences.update(adoption.sequences)
    own = adoption.sequences.get(engine.run_id)
    if own is not None:
        orders._order_seq = max(orders._order_seq, own[0])
        orders._position_seq = max(orders._position_seq, own[1])
    # realised_net counts the closed positions held above that closed this session: the engine
    # now sums them itself
    engine.entries.prior_realised = adoption.realised_net - closed_net
    engine.entries.prior_session = adoption.session_start
    engine.drawdown.peak = adoption.drawdown_peak
    if adoption.drawdown_tripped:
        engine.drawdown.tripped = engine.drawdown.warned = True
        reason = "drawdown limit: tripped in the run this engine took over from"
        engine.records.append(engine.breaker.trip(adoption.now, reason, {}))
        engine._refresh_trading_state()
    ledger = engine.ledger
    if adoption.cash is not None:
        ledger.cash, ledger.initial_cash = adoption.cash, adoption.initial_cash
    elif ledger.venue is None:
        # LIVE learns its cash from the next balance report (an observer taking over forgets
        # what it learnt while it owned nothing); the engine then sets the starting cash that
        # accounts for what the adopted positions cost (Engine._on_balance).
        ledger.cash = ledger.initial_cash = None
        ledger.venue_balance = ledger.venue_positions = None
    ledger.changed_at(engine.now)
    engine.adopted = adoption
    settle_already_resolved(engine, seen_resolved)
    engine._refresh_trading_state()


def _adopt_cash_side(engine: Any, adoption: Adoption) -> None:
    """The fills still settling (with their final orders) and the receivables: after this, a
    `FillSettled` or a `Redeemed` does to the adopting engine what it did to the exporting one."""
    orders, positions, receivables = engine.orders, engine.positions, engine.ledger.receivables
    for order in adoption.settling_orders:
        if order.state not in TERMINAL_ORDER_STATES or order.client_order_id in orders.orders:
            raise AdoptionError(f"settling order {order.client_order_id}: working or adopted twice")
        orders.orders[order.client_order_id] = order
        if order.purpose is OrderPurpose.ENTRY and order.signal_id:  # assertion 1 counts it
            engine.entries.approved.setdefault(order.signal_id, order.created_ts)
    for fill in adoption.unsettled:
        order = orders.orders.get(fill.client_order_id)
        if order is None:
            raise AdoptionError(f"unsettled fill {fill.fill_id}: order {fill.client_order_id}?")
        if fill.fill_id in orders.unsettled:
            raise AdoptionError(f"unsettled fill {fill.fill_id} adopted twice")
        orders.unsettled[fill.fill_id] = fill
        orders.unsettled_by_window.setdefault(order.window_slug, set()).add(fill.fill_id)
        orders._fill_ids.add(fill.fill_id)
        track = positions.tracks.get(order.position_id or "")
        if track is not None:
            track.unsettled.add(fill.fill_id)
    for row in adoption.redemptions:
        pid = row.position_id
        if pid in receivables.pending or pid in receivables.redeemed:
            raise AdoptionError(f"redemption of {pid} adopted twice")
        if row.status == PENDING:
            receivables.pending[pid] = row
            receivables.windows.setdefault(row.window_slug, []).append(pid)
        elif row.status == REDEEMED:
            receivables.redeemed[pid] = row
        else:
            raise AdoptionError(f"redemption of {pid}: status {row.status!r}")


def settle_already_resolved(engine: Any, slugs: set[str]) -> None:
    """Adopted positions on a window this engine saw resolved and the exporting one did not (an
    observer watched the resolution before it took over), or opened there by the late answer to
    an adopted order: settled now, as they would have been at the resolution (their payout cash,
    or a receivable awaiting redemption)."""
    positions, windows, ledger = engine.positions, engine.market.windows, engine.ledger
    settled = False
    for pos in list(positions.open_positions()):
        ws = windows[pos.window_slug]
        if ws.winner is None or pos.window_slug not in slugs:
            continue
        if pos.state in (PositionState.ENTRY, PositionState.MONITORING):
            pos = positions.expire(pos.position_id, engine.now)
        held = pos
        positions.settle(pos.position_id, ws.winner, engine.now)
        payout = held.shares if held.outcome is ws.winner else ZERO
        ledger.on_resolution(held, ws.window, payout, engine.now)
        settled = True
    if settled:
        ledger.changed_at(engine.now)
        ledger.record_balances(engine.now)


def _schedule(engine: Any, adoption: Adoption, new_slugs: set[str]) -> None:
    timers, strategies = engine.timers, {s.name: s for s in engine.config.strategies}
    if adoption.timers is not None:
        for due, kind, slug, name in adoption.timers:
            if slug not in new_slugs:
                continue
            if kind == STRATEGY_DUE:
                strategy = strategies.get(name or "")
                if strategy is not None:
                    timers.schedule(due, kind, (slug, strategy))
            else:
                timers.schedule(due, kind, slug)
        return
    # From the status at `now`: the lifecycle steps not yet taken; a strategy is asked again only
    # if its first evaluation is still to come (an earlier run asked it already).
    for slug in sorted(new_slugs):
        ws = engine.market.windows[slug]
        w, status = ws.window, ws.status
        if status is WindowStatus.UPCOMING:
            timers.schedule(w.open_ts, OPEN_WINDOW, slug)
        if status in (WindowStatus.UPCOMING, WindowStatus.OPEN):
            timers.schedule(w.close_ts, CLOSE_WINDOW, slug)
        if status is not WindowStatus.RESOLVED:
            timers.schedule(w.close_ts + OURS_AFTER_CLOSE_MS, OUR_RESOLUTION, slug)
        for strategy in engine.config.strategies:
            timing = strategy.timing
            if timing.on_signal_lines or not strategy.scope.covers(w):
                continue
            due = timing.first_due(w)
            if due > adoption.now:
                timers.schedule(due, STRATEGY_DUE, (slug, strategy))
