"""Orders: the state machine (DESIGN §4), the book of our orders, and where their ids are minted.

NEW → SUBMITTED → ACKED → PARTIALLY_FILLED → FILLED, or REJECTED / CANCELLED / UNKNOWN. The client
order id exists before anything is sent; the venue id is required from ACKED on. Fills count the
filled amount, never the requested one; a residual under 0.01 share is filled. An order that is
not final 5 s after submission becomes UNKNOWN and blocks re-entry on its window until the venue's
answer (ack, fill, reject, cancel) arrives. An exact duplicate event is ignored; anything the
table does not allow raises InvalidTransition.

The book mints every id a new order needs (client order ids, and position ids for entries that
open a position) and builds the fill records of the venue's executions, so one order's paperwork
lives in one place whichever desk asked for the order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

from live.kernel.domain import (
    DUST_SHARES,
    TERMINAL_ORDER_STATES,
    ZERO,
    Fill,
    Mode,
    Order,
    OrderPurpose,
    OrderSide,
    OrderState,
    OrderType,
    Outcome,
    RiskParams,
    Window,
)
from live.kernel.events import OrderAck, OrderCancel, OrderFill, OrderReject, OrderUnknown
from live.kernel.fsm import InvalidTransition, transition
from live.kernel.records import OrderEventRecord

CONFIRM_TIMEOUT_MS = 5_000
SETTLE_WITHIN_MS = 60_000  # a matched fill not CONFIRMED within this fails assertion 2
SETTLED_STATUSES = frozenset({"CONFIRMED"})

S = OrderState
SUBMIT, ACK, PARTIAL, FILL, REJECT, CANCEL, TIMEOUT = (
    "submit",
    "ack",
    "partial_fill",
    "fill",
    "reject",
    "cancel",
    "timeout",
)

TRANSITIONS: dict[tuple[OrderState, str], OrderState] = {
    (S.NEW, SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, ACK): S.ACKED,
    (S.SUBMITTED, REJECT): S.REJECTED,
    (S.SUBMITTED, TIMEOUT): S.UNKNOWN,
    (S.ACKED, PARTIAL): S.PARTIALLY_FILLED,
    (S.ACKED, FILL): S.FILLED,
    (S.ACKED, CANCEL): S.CANCELLED,
    (S.ACKED, TIMEOUT): S.UNKNOWN,
    (S.PARTIALLY_FILLED, PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, FILL): S.FILLED,
    (S.PARTIALLY_FILLED, CANCEL): S.CANCELLED,
    (S.PARTIALLY_FILLED, TIMEOUT): S.UNKNOWN,
    (S.UNKNOWN, ACK): S.ACKED,
    (S.UNKNOWN, PARTIAL): S.PARTIALLY_FILLED,
    (S.UNKNOWN, FILL): S.FILLED,
    (S.UNKNOWN, REJECT): S.REJECTED,
    (S.UNKNOWN, CANCEL): S.CANCELLED,
}

VenueResult = OrderAck | OrderReject | OrderFill | OrderCancel | OrderUnknown


def remaining_shares(order: Order, price: Decimal) -> Decimal:
    """Shares still wanted: for a BUY by dollars, the unspent dollars at `price`."""
    if order.side is OrderSide.SELL:
        return (order.requested_shares or ZERO) - order.filled_shares
    unspent = (order.requested_usd or ZERO) - order.notional
    return unspent / price if price > 0 else ZERO


class OrderBook:
    """Our orders, indexed for the risk envelope and the assertions. Every change goes through
    `_move`, which applies the table and records the transition. Ids are `{run_id}-o000001`
    (orders) and `{run_id}-p000001` (positions), counted per engine."""

    def __init__(self, mode: Mode, run_id: str, records: list[object]) -> None:
        self.mode, self.run_id = mode, run_id
        self.orders: dict[str, Order] = {}
        self.entries_by_window: dict[str, int] = {}
        self.unknown_by_window: dict[str, set[str]] = {}
        self.deadlines: dict[str, int] = {}  # client id -> ts after which it is UNKNOWN
        # Fills answered at their match, not yet CONFIRMED on chain (issue 13): fill id -> fill,
        # and per window (re-entry waits for them). A fill still unsettled `settle_bound_ms`
        # after it arrived fails assertion 2.
        self.unsettled: dict[str, Fill] = {}
        self.unsettled_by_window: dict[str, set[str]] = {}
        self.settle_bound_ms = SETTLE_WITHIN_MS
        self._working: dict[str, None] = {}  # client ids not final, in submission order
        self._fill_ids: set[str] = set()
        self._last: dict[str, VenueResult] = {}
        self._order_seq = 0
        self._position_seq = 0
        self._position_risk: dict[str, RiskParams] = {}  # entry client id -> its position's exits
        self.sequences: dict[str, tuple[int, int]] = {}  # adopted runs' id counters (adoption.py)
        self.records = records

    def __iter__(self) -> Iterator[Order]:
        return iter(self.orders.values())

    def get(self, client_order_id: str) -> Order | None:
        return self.orders.get(client_order_id)

    # ------------------------------------------------------------------ ids and paperwork

    def next_position_id(self) -> str:
        """A new position id, `{run_id}-p000001` onwards."""
        self._position_seq += 1
        return f"{self.run_id}-p{self._position_seq:06d}"

    def new_order(
        self,
        *,
        window: Window,
        strategy: str,
        outcome: Outcome,
        side: OrderSide,
        purpose: OrderPurpose,
        order_type: OrderType,
        worst: Decimal,
        position_id: str | None,
        now: int,
        requested_usd: Decimal | None = None,
        requested_shares: Decimal | None = None,
        signal_id: str | None = None,
        position_risk: RiskParams | None = None,
    ) -> Order:
        """A NEW order created at `now`, its client order id already assigned (spec P0 item 3:
        the id exists before anything is sent). `position_id` None (an entry that does not add to
        an open position) mints a new position id. `position_risk` (entries) is the exit
        parameters the position will carry; `position_risk(client_order_id)` gives it back at the
        first fill. Not yet in the book: `submit` registers it."""
        if position_id is None:
            position_id = self.next_position_id()
        self._order_seq += 1
        order = Order(
            client_order_id=f"{self.run_id}-o{self._order_seq:06d}",
            venue_order_id=None,
            mode=self.mode,
            run_id=self.run_id,
            strategy=strategy,
            window_slug=window.slug,
            signal_id=signal_id,
            position_id=position_id,
            token_id=window.token_for(outcome),
            outcome=outcome,
            side=side,
            purpose=purpose,
            order_type=order_type,
            requested_usd=requested_usd,
            requested_shares=requested_shares,
            worst_price=worst,
            filled_shares=ZERO,
            avg_price=None,
            fee=ZERO,
            state=OrderState.NEW,
            reason=None,
            payload=None,
            book_snapshot=None,
            created_ts=now,
            updated_ts=now,
        )
        if position_risk is not None:
            self._position_risk[order.client_order_id] = position_risk
        return order

    def position_risk(self, client_order_id: str) -> RiskParams:
        """The exit parameters an entry order's position carries (none set: no exits)."""
        return self._position_risk.get(client_order_id, RiskParams())

    def record_fill(self, event: OrderFill) -> Fill:
        """The fill record of a venue execution (appended to the records) for the positions."""
        fill = Fill(
            fill_id=event.fill_id,
            client_order_id=event.client_order_id,
            mode=self.mode,
            run_id=self.run_id,
            ts=event.ts,
            price=event.price,
            shares=event.shares,
            fee=event.fee,
            status=event.status,
            intended_price=event.intended_price,
            book_ratio=event.book_ratio,
            impact_flag=event.impact_flag,
        )
        self.records.append(fill)
        if fill.status not in SETTLED_STATUSES:
            order = self.orders[event.client_order_id]
            self.unsettled[fill.fill_id] = fill
            self.unsettled_by_window.setdefault(order.window_slug, set()).add(fill.fill_id)
        return fill

    def unsettled_on(self, window_slug: str) -> bool:
        return bool(self.unsettled_by_window.get(window_slug))

    def settle_fill(self, fill_id: str, status: str, ts: int, reason: str) -> Fill | None:
        """A pending fill's on-chain outcome: its record again with the final status (the
        sink keeps the latest); None when it is not pending (unknown, or settled already)."""
        fill = self.unsettled.pop(fill_id, None)
        if fill is None:
            return None
        order = self.orders[fill.client_order_id]
        self.unsettled_by_window.get(order.window_slug, set()).discard(fill_id)
        settled = replace(fill, status=status)
        self.records.append(settled)
        if status == "FAILED":
            self._reverse(order, fill, ts, reason)
        return settled

    def _reverse(self, order: Order, fill: Fill, ts: int, reason: str) -> None:
        """A FAILED fill undone on its order: filled shares, average price and fee (the order
        stays final; the correction is recorded as an order event)."""
        shares = order.filled_shares - fill.shares
        notional = order.notional - fill.shares * fill.price
        updated = replace(
            order,
            filled_shares=shares,
            avg_price=(notional / shares) if shares > 0 else None,
            fee=order.fee - fill.fee,
            reason=f"trade FAILED at the venue: {reason}" if reason else "trade FAILED",
            updated_ts=ts,
        )
        self.orders[order.client_order_id] = updated
        self.records.append(
            OrderEventRecord(
                order.client_order_id,
                ts,
                str(order.state),
                str(order.state),
                {"fill_reversed": fill.fill_id, "shares": str(fill.shares), "reason": reason},
            )
        )
        self.records.append(updated)

    def overdue_unsettled(self, now: int) -> list[str]:
        return [f for f, fill in self.unsettled.items() if now - fill.ts > self.settle_bound_ms]

    # ------------------------------------------------------------------ the machine

    def _move(self, order: Order, event: str, ts: int, **changes: object) -> Order:
        new_state = transition(TRANSITIONS, "order", order.client_order_id, order.state, event)
        updated = replace(order, state=new_state, updated_ts=ts, **changes)
        self.orders[order.client_order_id] = updated
        detail = {k: str(v) for k, v in changes.items() if k != "payload" and v is not None}
        self.records.append(
            OrderEventRecord(order.client_order_id, ts, str(order.state), str(new_state), detail)
        )
        self.records.append(updated)
        self._track_unknown(updated)
        if new_state in TERMINAL_ORDER_STATES or new_state is S.UNKNOWN:
            self.deadlines.pop(order.client_order_id, None)
        if new_state in TERMINAL_ORDER_STATES:
            self._working.pop(order.client_order_id, None)
        return updated

    def _track_unknown(self, order: Order) -> None:
        ids = self.unknown_by_window.setdefault(order.window_slug, set())
        if order.state is S.UNKNOWN:
            ids.add(order.client_order_id)
        else:
            ids.discard(order.client_order_id)

    def submit(self, order: Order) -> Order:
        """Register a NEW order (its id already set) and mark it SUBMITTED, ready to send."""
        if order.client_order_id in self.orders:
            raise InvalidTransition("order", order.client_order_id, "exists", SUBMIT)
        self.orders[order.client_order_id] = order
        self._working[order.client_order_id] = None
        self.records.append(OrderEventRecord(order.client_order_id, order.created_ts, None, "NEW"))
        if order.purpose is OrderPurpose.ENTRY:
            slug = order.window_slug
            self.entries_by_window[slug] = self.entries_by_window.get(slug, 0) + 1
        self.deadlines[order.client_order_id] = order.created_ts + CONFIRM_TIMEOUT_MS
        return self._move(order, SUBMIT, order.created_ts)

    def mark_sent(self, client_order_id: str, ts: int) -> Order | None:
        """The order went to the venue at `ts` (its `sent_ts`; the first report counts). Not a
        transition: the state stays. None for an order not ours, or already stamped."""
        order = self.orders.get(client_order_id)
        if order is None or order.sent_ts is not None:
            return None
        updated = replace(order, sent_ts=ts)
        self.orders[client_order_id] = updated
        self.records.append(updated)
        return updated

    def apply(self, event: VenueResult) -> Order | None:
        """Apply a venue result; returns the changed order, or None for an exact duplicate."""
        order = self.orders.get(event.client_order_id)
        if order is None:
            raise InvalidTransition("order", event.client_order_id, "absent", type(event).__name__)
        if self._last.get(order.client_order_id) == event:
            return None
        if isinstance(event, OrderFill):
            if event.fill_id in self._fill_ids:
                return None
            self._fill_ids.add(event.fill_id)
        self._last[order.client_order_id] = event
        if isinstance(event, OrderAck):
            return self._ack(order, event)
        if isinstance(event, OrderFill):
            return self._fill(order, event)
        if isinstance(event, OrderReject):
            return self._move(order, REJECT, event.ts, reason=event.reason)
        if isinstance(event, OrderCancel):
            return self._move(order, CANCEL, event.ts, reason=event.reason or order.reason)
        return self._move(order, TIMEOUT, event.ts, reason=event.reason or "venue unknown")

    def _ack(self, order: Order, event: OrderAck) -> Order:
        if order.venue_order_id not in (None, event.venue_order_id):
            raise InvalidTransition("order", order.client_order_id, str(order.state), "re-ack")
        if event.matching_pending_ms > 0 and order.client_order_id in self.deadlines:
            # accepted, matching pending (O1): the venue's answer is due later than usual
            due = event.ts + event.matching_pending_ms
            self.deadlines[order.client_order_id] = max(self.deadlines[order.client_order_id], due)
        return self._move(order, ACK, event.ts, venue_order_id=event.venue_order_id)

    def _fill(self, order: Order, event: OrderFill) -> Order:
        shares = order.filled_shares + event.shares
        cost = order.notional + event.shares * event.price
        partial = replace(order, filled_shares=shares, avg_price=cost / shares)
        done = remaining_shares(partial, event.price) < DUST_SHARES
        return self._move(
            order,
            FILL if done else PARTIAL,
            event.ts,
            filled_shares=shares,
            avg_price=(cost / shares).quantize(Decimal("0.000001")),
            fee=order.fee + event.fee,
        )

    def expire_unconfirmed(self, now: int) -> list[Order]:
        """Orders with no final answer 5 s after submission become UNKNOWN."""
        due = [cid for cid, ts in self.deadlines.items() if ts <= now]
        return [
            self._move(self.orders[cid], TIMEOUT, now, reason="no confirmation in 5 s")
            for cid in due
        ]

    def unknown_on(self, window_slug: str) -> bool:
        return bool(self.unknown_by_window.get(window_slug))

    def working(self) -> Iterator[Order]:
        """Orders not yet final (including UNKNOWN), oldest first. Kept as an index: scanning
        every order ever placed made each entry decision slower as a session grew."""
        return (self.orders[cid] for cid in list(self._working))
