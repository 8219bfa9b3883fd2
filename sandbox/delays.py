"""Delayed matching: with the `delay_orders` fault the venue answers a marketable order
`status: "delayed"` with empty amounts and no trade ids (Polymarket py-sdk#228, ts-sdk#264,
valory-xyz/trader#942), keeps it DELAYED (visible to an order lookup, cancellable), and matches it
`seconds` later against the book of that moment; an order that then finds nothing (FAK) or not
enough (FOK) ends UNMATCHED."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sandbox.markets import WindowState
from sandbox.records import Order, OrderStatus
from sandbox.windows import WindowStatus

if TYPE_CHECKING:
    from sandbox.exchange import Exchange

DEFAULT_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class Delayed:
    due: float
    order: Order
    state: WindowState
    budget: Decimal | None


def delay(
    ex: Exchange, order: Order, state: WindowState, budget: Decimal | None, seconds: float | None
) -> dict:
    """Hold the order for later matching; the post's answer says only that it is delayed."""
    order.status = OrderStatus.DELAYED
    ex.orders[order.id] = order
    wait = DEFAULT_DELAY_S if seconds is None else seconds
    ex.delayed.append(Delayed(ex.clock() + wait, order, state, budget))
    ex.counters["orders_delayed"] += 1
    return {
        "success": True,
        "errorMsg": "",
        "orderID": order.id,
        "status": "delayed",
        "makingAmount": "",
        "takingAmount": "",
        "tradeIDs": [],
        "transactionsHashes": [],
    }


def release(ex: Exchange, now: float) -> None:
    """Match every delayed order whose time has come (cancelled ones are skipped)."""
    if not ex.delayed:
        return
    due = [d for d in ex.delayed if d.due <= now]
    ex.delayed = [d for d in ex.delayed if d.due > now]
    for item in due:
        order = item.order
        if order.status is not OrderStatus.DELAYED:
            continue
        order.status = OrderStatus.LIVE
        answer = {"success": False}
        if item.state.status in (WindowStatus.UPCOMING, WindowStatus.OPEN):
            fills = ex.match(order, item.budget, item.state.window.asset)
            answer = ex.execute(order, item.state, fills, item.budget)
        if not answer["success"]:
            order.status = OrderStatus.UNMATCHED
            ex.counters["orders_unmatched"] += 1
            ex.emit_order(order, "CANCELLATION")
