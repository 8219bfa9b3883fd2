"""The order desk: an order's path from dispatch to its final state (DESIGN §4–5).

`dispatch` stores the payload and the book snapshot, submits the order (SUBMITTED) and emits a
PlaceOrder; with a simulated venue (PAPER, DRY_RUN, BACKTEST) the order is sent and answered at
once (its `sent_ts` is now) and the answers are applied here, in LIVE the runner sends it later
(its `OrderSent` sets `sent_ts`) and feeds the answers back as events — both go through `apply`,
so the modes differ only in who answers. `apply` moves the order (order_book.py); a fill books
its record, the cash (ledger.py) and the position (positions.py); a final order tells the
position, and the exit desk, how it ended.

It works with what it is handed, never with the engine: the market state, the order and position
books, the ledger (and through it the simulated venue), the exit desk, an `emit` callable and an
`on_position_closed` callable (a closed position may end a flatten).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from live.kernel.commands import Alert as AlertCommand
from live.kernel.commands import Command, PlaceOrder
from live.kernel.domain import (
    DUST_SHARES,
    TERMINAL_ORDER_STATES,
    Order,
    OrderPurpose,
    OrderState,
    PositionState,
)
from live.kernel.events import FillSettled, OrderFill, OrderUnknown
from live.kernel.executors import build_payload
from live.kernel.exit_desk import ExitDesk
from live.kernel.ledger import Ledger
from live.kernel.order_book import OrderBook
from live.kernel.positions import PositionBook
from live.kernel.state import MarketState


class OrderDesk:
    """Sends our orders and applies the venue's answers to them."""

    def __init__(
        self,
        *,
        market: MarketState,
        orders: OrderBook,
        positions: PositionBook,
        ledger: Ledger,
        exits: ExitDesk,
        emit: Callable[[Command], None],
        on_position_closed: Callable[[], None],
    ) -> None:
        self.market, self.orders, self.positions = market, orders, positions
        self.ledger, self.exits = ledger, exits
        self.emit, self.on_position_closed = emit, on_position_closed

    def dispatch(self, order: Order, now: int) -> Order:
        """Send a NEW order at `now`; returns it SUBMITTED (its payload and book snapshot set)."""
        ws = self.market.windows[order.window_slug]
        book = self.market.books.get(order.token_id)
        payload = build_payload(order, ws.window)
        snapshot = book.snapshot() if book is not None else None
        venue = self.ledger.venue
        sent = now if venue is not None else None  # a simulated venue executes it right here
        order = self.orders.submit(
            replace(order, payload=payload, book_snapshot=snapshot, sent_ts=sent)
        )
        self.emit(PlaceOrder(order, payload))
        if venue is not None:
            for result in venue.execute(order, book, ws.window, now):
                self.apply(result, now)
        return order

    def apply(self, ev: Any, now: int) -> None:
        """Apply one venue answer (ack, fill, reject, cancel, unknown) to its order."""
        known = self.orders.get(ev.client_order_id)
        if isinstance(ev, OrderUnknown) and known is not None and known.state is OrderState.UNKNOWN:
            return  # our own deadline said so first (and alerted): nothing new, not a transition
        order = self.orders.apply(ev)
        if order is None:
            return  # exact duplicate: idempotent
        if isinstance(ev, OrderFill):
            self._on_fill(order, ev, now)
        if isinstance(ev, OrderUnknown) and order.state is OrderState.UNKNOWN:
            # The venue adapter gave up before our own deadline: alert all the same.
            message = f"order {order.client_order_id} UNKNOWN: {ev.reason}"
            self.emit(AlertCommand("order_unknown", "critical", message))
        if order.state in TERMINAL_ORDER_STATES:
            self._on_final(order, now)

    def expire_unconfirmed(self, now: int) -> None:
        """Orders with no final answer 5 s after submission become UNKNOWN, with an alert."""
        if min(self.orders.deadlines.values()) > now:
            return
        for order in self.orders.expire_unconfirmed(now):
            message = f"order {order.client_order_id} UNKNOWN"
            self.emit(AlertCommand("order_unknown", "critical", message))

    def settle_fill(self, ev: FillSettled, now: int) -> None:
        """A matched fill's on-chain outcome. CONFIRMED: its shares are settled (an exit held
        for them may go). FAILED: the fill is reversed at once — order, cash, position, P&L —
        and alerted with the venue's reason."""
        fill = self.orders.settle_fill(ev.fill_id, ev.status, now, ev.reason)
        if fill is None:
            return  # not pending: unknown, or settled already (idempotent)
        order = self.orders.get(fill.client_order_id)
        assert order is not None
        pid = order.position_id
        track = self.positions.tracks.get(pid or "")
        if ev.status != "FAILED":
            if track is not None:
                track.unsettled.discard(fill.fill_id)
                self._after_settled(pid, now)
            return
        self.ledger.reverse_fill(order.side, fill, now)
        entry = order.purpose is OrderPurpose.ENTRY
        message = f"fill {fill.fill_id} of {order.client_order_id} FAILED: {ev.reason or '?'}"
        pos = None
        if track is not None:
            pos = self.positions.reverse_fill(pid, fill, entry, now, ev.reason)
        if track is not None and pos is None:
            self.emit(AlertCommand("fill_failed", "critical", message + " (position closed)"))
            return
        self.emit(AlertCommand("fill_failed", "warning", message + ": reversed"))
        if pos is not None and pos.state is PositionState.CLOSED:
            self.on_position_closed()
        elif pos is not None:
            self.exits.check([pid], now)  # a failed exit fill: the shares are back, sell again

    def _after_settled(self, pid: str, now: int) -> None:
        """A fill of the position settled: an exit held for it may go, or an exit that sold
        everything closes the position once its last fill is CONFIRMED."""
        pos = self.positions.get(pid)
        working = any(o.position_id == pid for o in self.orders.working())
        if pos.state is PositionState.EXIT_PENDING and not working:
            pos = self.positions.on_exit_done(pid, now)
            if pos.state is PositionState.CLOSED:
                self.on_position_closed()
                return
        self.exits.check([pid], now)

    def _on_fill(self, order: Order, ev: OrderFill, now: int) -> None:
        fill = self.orders.record_fill(ev)
        self.ledger.on_fill(order.side, ev, now)
        pid = order.position_id or ""
        try:
            if order.purpose is OrderPurpose.ENTRY:
                window = self.market.windows[order.window_slug].window
                risk = self.orders.position_risk(order.client_order_id)
                self.positions.on_entry_fill(pid, order, fill, window, risk)
            else:
                self.positions.on_exit_fill(pid, fill)
        finally:
            # Also when the position refuses the fill (InvalidTransition: the breaker trips):
            # the order book holds it unsettled, so does the track — exits wait for it, and a
            # restart (which rebuilds tracks from the order book) sees the same state.
            if fill.fill_id in self.orders.unsettled and pid in self.positions.tracks:
                self.positions.tracks[pid].unsettled.add(fill.fill_id)

    def _on_final(self, order: Order, now: int) -> None:
        pid = order.position_id
        if pid is None or pid not in self.positions.positions:
            return
        if order.purpose is OrderPurpose.ENTRY:
            self.positions.on_entry_done(pid, now)
            self.exits.check([pid], now)
        else:
            if order.filled_shares < DUST_SHARES:  # refused or killed: no resend storm
                self.exits.refused(pid, now)
            pos = self.positions.on_exit_done(pid, now)
            if pos.state is PositionState.CLOSED:
                self.on_position_closed()
