"""Positions: the lifecycle state machine (DESIGN §4, spec Phase 2) and the book of positions.

ENTRY → MONITORING → {STOP_TRIGGERED | TAKE_PROFIT_TRIGGERED | TRAILING_TRIGGERED |
FLATTEN_REQUESTED | EXPIRY} → EXIT_PENDING or SETTLEMENT → CLOSED. A position exists only once a
fill arrived (no confirmation, no position) and counts filled shares only. Once EXIT_PENDING only
the exit flow (exit fills, a retry for the remainder, settlement of what is left) moves it.

An exit's events carry its inputs as they become known (the trigger, its threshold and the bid
seen; the intended exit price; the actual one; what settlement paid) in `detail`, and the
sentence rendered from them (audit.exit_sentence) in `audit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from live.kernel.audit import exit_sentence
from live.kernel.domain import (
    DUST_SHARES,
    ONE,
    ZERO,
    ExitReason,
    Fill,
    Mode,
    Order,
    Outcome,
    Position,
    PositionState,
    RiskParams,
    Window,
    usd,
)
from live.kernel.fsm import transition
from live.kernel.records import PositionEventRecord

P = PositionState
TRIGGERED = {
    ExitReason.STOP_LOSS: P.STOP_TRIGGERED,
    ExitReason.TAKE_PROFIT: P.TAKE_PROFIT_TRIGGERED,
    ExitReason.TRAILING_STOP: P.TRAILING_TRIGGERED,
    ExitReason.FLATTEN: P.FLATTEN_REQUESTED,
    ExitReason.EXPIRY: P.EXPIRY,
}
AWAITING_EXIT = frozenset(
    {P.STOP_TRIGGERED, P.TAKE_PROFIT_TRIGGERED, P.TRAILING_TRIGGERED, P.FLATTEN_REQUESTED}
)
OPEN_STATES = frozenset(set(P) - {P.CLOSED})

TRANSITIONS: dict[tuple[PositionState, str], PositionState] = {
    (P.ENTRY, "fill"): P.ENTRY,
    (P.ENTRY, "entry_done"): P.MONITORING,
    (P.ENTRY, "EXPIRY"): P.EXPIRY,
    (P.MONITORING, "fill"): P.MONITORING,
    (P.EXIT_PENDING, "exit_fill"): P.EXIT_PENDING,
    (P.EXIT_PENDING, "exit_sent"): P.EXIT_PENDING,
    (P.EXIT_PENDING, "exit_done"): P.CLOSED,
    (P.EXIT_PENDING, "settle"): P.SETTLEMENT,
    (P.EXPIRY, "settle"): P.SETTLEMENT,
    (P.SETTLEMENT, "close"): P.CLOSED,
}
# A fill the venue undid (trade FAILED, issue 13): the position keeps its state with the fill
# taken out, or is CLOSED (nothing gained, nothing lost) when nothing is left.
for _state in OPEN_STATES:
    TRANSITIONS[(_state, "fill_failed")] = _state
    TRANSITIONS[(_state, "reversed")] = P.CLOSED
for _reason, _state in TRIGGERED.items():
    TRANSITIONS[(P.MONITORING, str(_reason))] = _state
for _state in AWAITING_EXIT:
    TRANSITIONS[(_state, "exit_sent")] = P.EXIT_PENDING
    TRANSITIONS[(_state, "settle")] = P.SETTLEMENT


MARK_EVERY_MS = 1_000  # an open position is re-marked at most once a second
# What `_move` records on the event rather than the position row.
EVENT_FIELDS = ("trigger_price", "intended_price", "actual_price", "reason", "detail", "audit")


@dataclass(slots=True)
class Track:
    """Engine-side facts about a position that are not table columns."""

    close_ts: int
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    sell_value: Decimal = ZERO
    peak_bid: Decimal = ZERO
    trigger_price: Decimal | None = None
    intended_price: Decimal | None = None
    marked_ts: int = -MARK_EVERY_MS
    exit_retry_at: int = 0  # after a refused exit, not before (no resend on every book change)
    unexitable_noted: bool = False  # "below the venue's minimum" recorded once per episode
    unsettled: set[str] = field(default_factory=set)  # fill ids matched, not yet CONFIRMED
    exit: dict[str, Any] = field(default_factory=dict)  # the exit's inputs so far (audit)


class PositionBook:
    """Our positions and their lifecycle; every change goes through `_move`."""

    def __init__(self, mode: Mode, run_id: str | None, records: list[object]) -> None:
        self.mode, self.run_id, self.records = mode, run_id, records
        self.positions: dict[str, Position] = {}
        self.tracks: dict[str, Track] = {}
        # Open positions per held token, in opening order (a dict as an ordered set: a set's
        # order follows string hashing, which changes between processes, and exits of two
        # positions triggered by one book change must be sent in the same order on every replay).
        self.by_token: dict[str, dict[str, None]] = {}
        self._current: dict[tuple[str, str, Outcome], str] = {}

    def __iter__(self) -> Iterator[Position]:
        return iter(self.positions.values())

    def get(self, position_id: str) -> Position:
        return self.positions[position_id]

    def open_positions(self) -> Iterator[Position]:
        return (p for p in self.positions.values() if p.state is not P.CLOSED)

    def _move(self, pos: Position, event: str, ts: int, **changes: object) -> Position:
        new_state = transition(TRANSITIONS, "position", pos.position_id, pos.state, event)
        prices = {k: changes.pop(k, None) for k in EVENT_FIELDS}
        updated = replace(pos, state=new_state, updated_ts=ts, **changes)
        self.positions[pos.position_id] = updated
        if new_state is P.CLOSED:
            self.by_token.get(updated.token_id, {}).pop(pos.position_id, None)
        self.records.append(
            PositionEventRecord(
                position_id=pos.position_id,
                ts=ts,
                from_state=str(pos.state),
                to_state=str(new_state),
                trigger_price=prices["trigger_price"],
                intended_price=prices["intended_price"],
                actual_price=prices["actual_price"],
                mark_price=updated.mark_price,
                pnl_gross=updated.pnl_gross,
                reason=prices["reason"],
                detail=prices["detail"] or {},
                audit=prices["audit"],
            )
        )
        self.records.append(updated)
        return updated

    def _exit_changes(self, pid: str, extra: dict[str, Any] | None = None, **known: object):
        """`detail` and `audit` of an exit event: the exit's inputs with `known` added (as
        stored: Decimals as strings), plus `extra` (not an input), and their sentence. A position
        adopted without its inputs starts from what its track still knows (no threshold)."""
        pos, track = self.positions[pid], self.tracks[pid]
        if not track.exit:
            track.exit = _stored(
                {"trigger": pos.exit_reason, "price_seen": track.trigger_price}
                | {"intended_price": track.intended_price}
            )
        track.exit.update(_stored(known))
        inputs = dict(track.exit)
        return {"detail": {**inputs, **(extra or {})}, "audit": exit_sentence(inputs)}

    def mark(self, pid: str, bid: Decimal, ts: int) -> Position | None:
        """Mark an open position at the price it could be sold at (its token's best bid):
        the row's mark_price and a `mark` event with the unrealised gross P&L. Throttled to
        once a second and to bid changes; the state does not change. Realised pnl_gross stays
        empty until the position closes."""
        pos, track = self.positions[pid], self.tracks[pid]
        if pos.state not in (P.ENTRY, P.MONITORING) or pos.shares <= 0 or pos.entry_price is None:
            return None
        if ts - track.marked_ts < MARK_EVERY_MS or bid == pos.mark_price:
            return None
        track.marked_ts = ts
        updated = replace(pos, mark_price=bid, updated_ts=ts)
        self.positions[pid] = updated
        unrealised = (bid - pos.entry_price) * pos.shares
        self.records.append(
            PositionEventRecord(
                position_id=pid,
                ts=ts,
                from_state=str(pos.state),
                to_state=str(pos.state),
                mark_price=bid,
                pnl_gross=unrealised,
                reason="mark",
                # The inputs of this P&L: an entry filled in several fills grows between marks.
                detail={"shares": pos.shares, "entry_price": pos.entry_price},
            )
        )
        self.records.append(updated)
        return updated

    def note(self, pid: str, ts: int, reason: str, **detail: object) -> None:
        """A position event that is not a transition (the state stays): e.g. an exit the venue
        would refuse, recorded so the dashboard and the audit show why nothing was sent."""
        pos = self.positions[pid]
        self.records.append(
            PositionEventRecord(
                position_id=pid,
                ts=ts,
                from_state=str(pos.state),
                to_state=str(pos.state),
                mark_price=pos.mark_price,
                reason=reason,
                detail={k: str(v) for k, v in detail.items()},
            )
        )

    def reusable(self, strategy: str, window_slug: str, outcome: Outcome) -> str | None:
        """The open position a new entry of this strategy on this window side adds to, if any
        (only while ENTRY or MONITORING: an exiting position is never touched by entries)."""
        pid = self._current.get((strategy, window_slug, outcome))
        if pid is None or self.positions[pid].state not in (P.ENTRY, P.MONITORING):
            return None
        return pid

    def on_entry_fill(
        self, position_id: str, order: Order, fill: Fill, window: Window, risk: RiskParams
    ) -> Position:
        """Create the position at its first fill (state ENTRY) or add a fill to it."""
        pos = self.positions.get(position_id)
        if pos is None:
            pos = self._create(position_id, order, fill.ts, window, risk)
        track = self.tracks[position_id]
        track.bought += fill.shares
        cost = pos.cost + fill.shares * fill.price
        shares = pos.shares + fill.shares
        return self._move(
            pos,
            "fill",
            fill.ts,
            shares=shares,
            cost=cost,
            fees=pos.fees + fill.fee,
            entry_price=(cost / track.bought).quantize(Decimal("0.000001")),
            actual_price=fill.price,
            reason="entry fill",
        )

    def _create(
        self, position_id: str, order: Order, ts: int, window: Window, risk: RiskParams
    ) -> Position:
        pos = Position(
            position_id=position_id,
            mode=self.mode,
            run_id=self.run_id,
            strategy=order.strategy,
            window_slug=order.window_slug,
            asset=window.asset,
            outcome=order.outcome,
            token_id=order.token_id,
            state=P.ENTRY,
            shares=ZERO,
            entry_price=None,
            cost=ZERO,
            fees=ZERO,
            mark_price=None,
            exit_price=None,
            proceeds=ZERO,
            stop_loss=risk.stop_loss,
            take_profit=risk.take_profit,
            trailing_stop=risk.trailing_stop,
            exit_reason=None,
            resolution=None,
            pnl_gross=None,
            pnl_net=None,
            opened_ts=ts,
            updated_ts=ts,
            closed_ts=None,
        )
        self.positions[position_id] = pos
        self.tracks[position_id] = Track(close_ts=window.close_ts)
        self.by_token.setdefault(order.token_id, {})[position_id] = None
        self._current[(order.strategy, order.window_slug, order.outcome)] = position_id
        self.records.append(
            PositionEventRecord(position_id, ts, None, str(P.ENTRY), reason="first fill")
        )
        return pos

    def on_entry_done(self, position_id: str, ts: int) -> Position:
        """The entry order is final: start monitoring (peak for the trailing stop = entry)."""
        pos = self.positions[position_id]
        if pos.state is not P.ENTRY:
            return pos
        self.tracks[position_id].peak_bid = pos.entry_price or ZERO
        return self._move(pos, "entry_done", ts, reason="entry order final")

    def trigger(
        self,
        position_id: str,
        reason: ExitReason,
        price: Decimal | None,
        ts: int,
        **basis: object,
    ):
        """MONITORING → the triggered state of `reason`, recording the trigger price and the
        exit's inputs: `basis` holds the threshold and what it derives from (entry_price or
        peak_bid, the exit's parameter) or, for a flatten, the trading_state."""
        pos = self.positions[position_id]
        track = self.tracks[position_id]
        track.trigger_price = price
        track.exit = {}
        exit_ = self._exit_changes(
            position_id, trigger=str(reason), triggered_ts=ts, price_seen=price, **basis
        )
        return self._move(
            pos,
            str(reason),
            ts,
            exit_reason=str(reason),
            trigger_price=price,
            reason=str(reason),
            **exit_,
        )

    def exit_sent(self, position_id: str, intended: Decimal, client_order_id: str, ts: int):
        pos = self.positions[position_id]
        track = self.tracks[position_id]
        track.intended_price = intended
        exit_ = self._exit_changes(
            position_id, {"client_order_id": client_order_id}, intended_price=intended
        )
        return self._move(
            pos,
            "exit_sent",
            ts,
            trigger_price=track.trigger_price,
            intended_price=intended,
            reason="exit order sent",
            **exit_,
        )

    def on_exit_fill(self, position_id: str, fill: Fill) -> Position:
        pos = self.positions[position_id]
        track = self.tracks[position_id]
        track.sold += fill.shares
        track.sell_value += fill.shares * fill.price
        proceeds = pos.proceeds + fill.shares * fill.price
        average = (track.sell_value / track.sold).quantize(Decimal("0.000001"))
        exit_ = self._exit_changes(
            position_id, {"fill_price": str(fill.price)}, actual_price=average
        )
        return self._move(
            pos,
            "exit_fill",
            fill.ts,
            shares=pos.shares - fill.shares,
            proceeds=proceeds,
            fees=pos.fees + fill.fee,
            exit_price=average,
            trigger_price=track.trigger_price,
            intended_price=track.intended_price,
            actual_price=fill.price,
            reason="exit fill",
            **exit_,
        )

    def on_exit_done(self, position_id: str, ts: int) -> Position:
        """The exit order is final: CLOSED if only dust is left, else still EXIT_PENDING (also
        while an exit fill is matched but not yet CONFIRMED: it may still fail)."""
        pos = self.positions[position_id]
        if pos.state is not P.EXIT_PENDING or pos.shares >= DUST_SHARES:
            return pos
        if self.tracks[position_id].unsettled:
            return pos
        gross = pos.proceeds - pos.cost
        return self._move(
            pos,
            "exit_done",
            ts,
            pnl_gross=gross,
            pnl_net=gross - pos.fees,
            closed_ts=ts,
            reason="exit complete",
            **self._exit_changes(position_id, actual_price=pos.exit_price),
        )

    def expire(self, position_id: str, ts: int, bid: Decimal | None = None) -> Position:
        """Window closed while held (the time exit): hold to settlement. `bid` is the held
        token's bid when the exit desk saw the close (else the last mark)."""
        pos = self.positions[position_id]
        self.tracks[position_id].exit = {}
        exit_ = self._exit_changes(
            position_id,
            trigger=str(ExitReason.EXPIRY),
            triggered_ts=ts,
            close_ts=self.tracks[position_id].close_ts,
            price_seen=bid if bid is not None else pos.mark_price,
        )
        return self._move(
            pos, str(ExitReason.EXPIRY), ts, exit_reason="EXPIRY", reason="close", **exit_
        )

    def settle(self, position_id: str, winner: Outcome, ts: int) -> Position:
        """The venue resolved the window: remaining shares pay $1 if they won; then CLOSED."""
        pos = self.positions[position_id]
        won = pos.outcome is winner
        payout = pos.shares if won else ZERO
        settle_price = ONE if won else ZERO
        pos = self._move(pos, "settle", ts, resolution=winner, reason="venue resolved")
        proceeds = pos.proceeds + payout
        gross = proceeds - pos.cost
        exit_ = self._exit_changes(
            position_id, {"payout": str(usd(payout))}, settle_price=settle_price, winner=winner
        )
        return self._move(
            pos,
            "close",
            ts,
            proceeds=proceeds,
            exit_price=pos.exit_price if pos.exit_price is not None else settle_price,
            pnl_gross=gross,
            pnl_net=gross - pos.fees,
            closed_ts=ts,
            actual_price=settle_price,
            reason="settled",
            **exit_,
        )

    def reverse_fill(self, position_id: str, fill: Fill, entry: bool, ts: int, reason: str):
        """A FAILED fill of this position undone (shares, cost or proceeds, fees): CLOSED with
        a zero P&L when nothing is left of an entry. None when the position is closed already
        (the caller alerts: that needs an operator)."""
        pos, track = self.positions[position_id], self.tracks[position_id]
        track.unsettled.discard(fill.fill_id)
        if pos.state is P.CLOSED:
            return None
        value = fill.shares * fill.price
        if entry:
            track.bought -= fill.shares
            shares, cost, proceeds = pos.shares - fill.shares, pos.cost - value, pos.proceeds
        else:
            track.sold -= fill.shares
            track.sell_value -= value
            shares, cost, proceeds = pos.shares + fill.shares, pos.cost, pos.proceeds - value
            if track.exit:  # the exit's actual price is what is still sold
                track.exit.pop("actual_price", None)
                if track.sold > 0:
                    average = (track.sell_value / track.sold).quantize(Decimal("0.000001"))
                    track.exit["actual_price"] = str(average)
        detail = {"fill_id": fill.fill_id, "shares": str(fill.shares), "why": reason}
        changes: dict[str, object] = {
            "shares": shares,
            "cost": cost,
            "proceeds": proceeds,
            "fees": pos.fees - fill.fee,
            "reason": "fill FAILED at the venue: reversed",
            "detail": detail,
        }
        if entry:
            changes["entry_price"] = (
                (cost / track.bought).quantize(Decimal("0.000001")) if track.bought > 0 else None
            )
        if entry and shares < DUST_SHARES and not pos.proceeds:
            self.by_token.get(pos.token_id, {}).pop(position_id, None)
            return self._move(
                pos, "reversed", ts, pnl_gross=ZERO, pnl_net=ZERO, closed_ts=ts, **changes
            )
        return self._move(pos, "fill_failed", ts, **changes)

    def exposure(self, position: Position) -> Decimal:
        """Capital still at risk in an open position: its remaining cost basis."""
        track = self.tracks[position.position_id]
        if track.bought <= 0:
            return ZERO
        return position.cost * position.shares / track.bought


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """Exit inputs as they are stored (jsonb): Decimals and enums as strings, None left out."""
    return {
        k: v if type(v) is int else str(v)  # noqa: E721 - bools and enums become strings
        for k, v in values.items()
        if v is not None
    }
