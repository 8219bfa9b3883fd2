"""The engine's exit desk: for each held position, the one exit decision (kernel/exits.py), then
the exit order — a FAK sell of the held shares at the bid side's worst price. Exits the venue
must refuse (under its $1 marketable minimum) are held and recorded, never spammed; a refused or
killed exit is retried after EXIT_RETRY_MS, not on every book change."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from live.kernel.commands import Alert as AlertCommand
from live.kernel.domain import ZERO, OrderPurpose, OrderSide, OrderType, PositionState, TradingState
from live.kernel.exits import decide_exit, needs_bid
from live.kernel.limits import MIN_MARKETABLE_USD
from live.kernel.positions import AWAITING_EXIT
from live.kernel.risk import worst_price

if TYPE_CHECKING:
    from live.kernel.engine import Engine

EXIT_RETRY_MS = 1_000  # after a refused or killed exit, wait this long before resending


class ExitDesk:
    """Turns exit decisions into exit orders for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def refused(self, pid: str) -> None:
        """The last exit of `pid` was refused or killed unfilled: pause before resending."""
        e = self.engine
        e.positions.tracks[pid].exit_retry_at = e.now + EXIT_RETRY_MS

    def check(self, position_ids: list[str]) -> None:
        """Exits of these positions: decide for monitored ones, (re)send for triggered ones."""
        e = self.engine
        flatten = e.trading_state in (TradingState.FLATTENING, TradingState.EMERGENCY)
        for pid in position_ids:
            pos = e.positions.positions[pid]
            state = pos.state
            if state is PositionState.MONITORING:
                if flatten or needs_bid(pos.risk):
                    self._decide(pid)
            elif state in AWAITING_EXIT or (
                state is PositionState.EXIT_PENDING and not self._working(pid)
            ):
                self._send(pid)

    def _decide(self, pid: str) -> None:
        e = self.engine
        pos = e.positions.positions[pid]
        track = e.positions.tracks[pid]
        book = e.market.books.get(pos.token_id)
        best = None if book is None else book.best_bid
        bid = None if best is None else Decimal(repr(best))
        if bid is not None and bid > track.peak_bid:
            track.peak_bid = bid
        decision = decide_exit(
            entry_price=pos.entry_price or ZERO,
            risk=pos.risk,
            bid=bid,
            peak_bid=track.peak_bid,
            flatten=e.trading_state in (TradingState.FLATTENING, TradingState.EMERGENCY),
            now=e.now,
            close_ts=track.close_ts,
        )
        if decision is None:
            return
        if decision.reason == "EXPIRY":
            e.positions.expire(pid, e.now)
            return
        e.positions.trigger(pid, decision.reason, decision.trigger_price, e.now)
        self._send(pid)

    def _working(self, pid: str) -> bool:
        e = self.engine
        return any(
            o.position_id == pid and o.purpose is OrderPurpose.EXIT for o in e.orders.working()
        )

    def _send(self, pid: str) -> None:
        e = self.engine
        """Sell what is held at market (FAK), worst price from the bid side of the held token."""
        pos = e.positions.positions[pid]
        ws = e.market.windows[pos.window_slug]
        if e.now >= ws.window.close_ts:
            return  # the market is closed: what is left settles
        book = e.market.books.get(pos.token_id)
        best = None if book is None else book.best_bid
        worst = worst_price(OrderSide.SELL, best, ws.window.tick_size)
        if worst is None or best is None:
            return  # no bid to exit at: stay triggered and retry on the next book change
        track = e.positions.tracks[pid]
        if e.now < track.exit_retry_at:
            return  # the last exit was refused: retry after a pause, not on every book change
        if pos.shares * worst < MIN_MARKETABLE_USD:
            # The venue refuses marketable orders under $1: sending would only be rejected.
            # Hold (to settlement, or until the bid makes the exit marketable again).
            if not track.unexitable_noted:
                track.unexitable_noted = True
                e.positions.note(
                    pid,
                    e.now,
                    "exit_below_venue_minimum",
                    shares=pos.shares,
                    worst_price=worst,
                    minimum_usd=MIN_MARKETABLE_USD,
                )
                e._commands.append(
                    AlertCommand(
                        "exit_blocked",
                        "warning",
                        f"position {pid}: exit of {pos.shares} shares at {worst} is under the "
                        f"venue's ${MIN_MARKETABLE_USD} minimum; holding to settlement",
                    )
                )
            return
        track.unexitable_noted = False
        intended = Decimal(repr(best))
        order = e.entries.new_order(
            window=ws.window,
            strategy=pos.strategy,
            outcome=pos.outcome,
            side=OrderSide.SELL,
            purpose=OrderPurpose.EXIT,
            order_type=OrderType.FAK,
            worst=worst,
            position_id=pid,
            requested_shares=pos.shares,
        )
        e.positions.exit_sent(pid, intended, order.client_order_id, e.now)
        e.dispatch(order)
