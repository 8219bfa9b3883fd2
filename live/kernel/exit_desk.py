"""The exit desk: for each held position, the one exit decision (kernel/exits.py), then the exit
order — a FAK sell of the held shares at the bid side's worst price. Exits the venue must refuse
(under its $1 marketable minimum) are held and recorded, never spammed; a refused or killed exit
is retried after EXIT_RETRY_MS, not on every book change.

It works with what it is handed, never with the engine: the market state (books, windows), the
order book (it mints the exit order's id), the position book, a `dispatch` callable that sends an
order, an `emit` callable for alerts, a `flattening` callable (is the trading state FLATTENING
or EMERGENCY now?) and a `trading_state` one (which, for a flatten's audit sentence); the time
comes with each call. A trigger is recorded with what its threshold derives from (audit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from live.kernel.commands import Alert as AlertCommand
from live.kernel.commands import Command
from live.kernel.domain import (
    ZERO,
    ExitReason,
    Order,
    OrderPurpose,
    OrderSide,
    OrderType,
    Position,
    PositionState,
)
from live.kernel.exits import ExitDecision, decide_exit, needs_bid
from live.kernel.limits import MIN_MARKETABLE_USD
from live.kernel.order_book import OrderBook
from live.kernel.positions import AWAITING_EXIT, PositionBook
from live.kernel.risk import worst_price
from live.kernel.state import MarketState

EXIT_RETRY_MS = 1_000  # after a refused or killed exit, wait this long before resending


class ExitDesk:
    """Turns exit decisions into exit orders."""

    def __init__(
        self,
        *,
        market: MarketState,
        orders: OrderBook,
        positions: PositionBook,
        dispatch: Callable[[Order], Order],
        emit: Callable[[Command], None],
        flattening: Callable[[], bool],
        trading_state: Callable[[], object] = lambda: None,
    ) -> None:
        self.market, self.orders, self.positions = market, orders, positions
        self.dispatch, self.emit, self.flattening = dispatch, emit, flattening
        self.trading_state = trading_state

    def refused(self, pid: str, now: int) -> None:
        """The last exit of `pid` was refused or killed unfilled: pause before resending."""
        self.positions.tracks[pid].exit_retry_at = now + EXIT_RETRY_MS

    def check(self, position_ids: list[str], now: int) -> None:
        """Exits of these positions at `now`: decide for monitored ones (every one when the
        engine is flattening), (re)send for triggered ones."""
        flatten = self.flattening()
        positions = self.positions.positions
        for pid in position_ids:
            pos = positions[pid]
            state = pos.state
            if state is PositionState.MONITORING:
                if flatten or needs_bid(pos.risk):
                    self._decide(pid, now)
            elif state in AWAITING_EXIT or (
                state is PositionState.EXIT_PENDING and not self._working(pid)
            ):
                self._send(pid, now)

    def _decide(self, pid: str, now: int) -> None:
        pos = self.positions.positions[pid]
        track = self.positions.tracks[pid]
        book = self.market.books.get(pos.token_id)
        best = None if book is None else book.best_bid
        bid = None if best is None else Decimal(repr(best))
        if bid is not None and bid > track.peak_bid:
            track.peak_bid = bid
        decision = decide_exit(
            entry_price=pos.entry_price or ZERO,
            risk=pos.risk,
            bid=bid,
            peak_bid=track.peak_bid,
            flatten=self.flattening(),
            now=now,
            close_ts=track.close_ts,
        )
        if decision is None:
            return
        if decision.reason == "EXPIRY":
            self.positions.expire(pid, now, bid)
            return
        basis = self._basis(pos, decision, track.peak_bid)
        self.positions.trigger(pid, decision.reason, decision.trigger_price, now, **basis)
        self._send(pid, now)

    def _basis(self, pos: Position, decision: ExitDecision, peak_bid: Decimal) -> dict[str, Any]:
        """What the trigger's threshold derives from, for its audit sentence: the entry price (or
        the trailing peak) and the exit's fraction; for a flatten, the trading state."""
        reason, risk = decision.reason, pos.risk
        if reason is ExitReason.FLATTEN:
            return {"trading_state": self.trading_state()}
        basis: dict[str, Any] = {"threshold": decision.threshold, "entry_price": pos.entry_price}
        if reason is ExitReason.STOP_LOSS:
            basis["parameter"] = risk.stop_loss
        elif reason is ExitReason.TAKE_PROFIT:
            basis["parameter"] = risk.take_profit
        elif reason is ExitReason.TRAILING_STOP:
            basis.update(parameter=risk.trailing_stop, peak_bid=peak_bid)
        return basis

    def _working(self, pid: str) -> bool:
        return any(
            o.position_id == pid and o.purpose is OrderPurpose.EXIT for o in self.orders.working()
        )

    def _send(self, pid: str, now: int) -> None:
        """Sell what is held at market (FAK), worst price from the bid side of the held token."""
        pos = self.positions.positions[pid]
        ws = self.market.windows[pos.window_slug]
        if now >= ws.window.close_ts:
            return  # the market is closed: what is left settles
        if self.positions.tracks[pid].unsettled:
            return  # shares matched but not yet CONFIRMED cannot be sold: sent once settled
        book = self.market.books.get(pos.token_id)
        best = None if book is None else book.best_bid
        worst = worst_price(OrderSide.SELL, best, ws.window.tick_size)
        if worst is None or best is None:
            return  # no bid to exit at: stay triggered and retry on the next book change
        track = self.positions.tracks[pid]
        if now < track.exit_retry_at:
            return  # the last exit was refused: retry after a pause, not on every book change
        if pos.shares * worst < MIN_MARKETABLE_USD:
            # The venue refuses marketable orders under $1: sending would only be rejected.
            # Hold (to settlement, or until the bid makes the exit marketable again).
            if not track.unexitable_noted:
                track.unexitable_noted = True
                self._note_unexitable(pid, pos.shares, worst, now)
            return
        track.unexitable_noted = False
        intended = Decimal(repr(best))
        order = self.orders.new_order(
            window=ws.window,
            strategy=pos.strategy,
            outcome=pos.outcome,
            side=OrderSide.SELL,
            purpose=OrderPurpose.EXIT,
            order_type=OrderType.FAK,
            worst=worst,
            position_id=pid,
            now=now,
            requested_shares=pos.shares,
        )
        self.positions.exit_sent(pid, intended, order.client_order_id, now)
        self.dispatch(order)

    def _note_unexitable(self, pid: str, shares: Decimal, worst: Decimal, now: int) -> None:
        """Once per episode: a position event and a warning that this exit is under the minimum."""
        self.positions.note(
            pid,
            now,
            "exit_below_venue_minimum",
            shares=shares,
            worst_price=worst,
            minimum_usd=MIN_MARKETABLE_USD,
        )
        self.emit(
            AlertCommand(
                "exit_blocked",
                "warning",
                f"position {pid}: exit of {shares} shares at {worst} is under the "
                f"venue's ${MIN_MARKETABLE_USD} minimum; holding to settlement",
            )
        )
