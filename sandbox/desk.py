"""Cancels, open-order views and heartbeats of the sandbox exchange (a mixin of
`sandbox.exchange.Exchange`, split out for size)."""

from __future__ import annotations

import uuid
from collections import Counter

from sandbox.records import Order, OrderStatus


class OrderDesk:
    """Needs from the host: orders, resting, heartbeats, counters, clock, emit_order."""

    orders: dict[str, Order]
    resting: dict[str, list[Order]]
    heartbeats: dict[str, tuple[str, float]]
    counters: Counter[str]

    # ---- cancels --------------------------------------------------------------------------
    def _unrest(self, order: Order) -> None:
        orders = self.resting.get(order.token, [])
        if order in orders:
            orders.remove(order)

    def cancel(
        self, owner: str, order_ids: list[str], status: OrderStatus = OrderStatus.CANCELED
    ) -> dict:
        canceled, not_canceled = [], {}
        for order_id in order_ids:
            order = self.orders.get(order_id)
            if order is None or order.owner != owner or not order.is_open:
                not_canceled[order_id] = "Order not found or already canceled"
                continue
            order.status = status
            self._unrest(order)
            self.emit_order(order, "CANCELLATION")
            canceled.append(order_id)
        self.counters["orders_canceled"] += len(canceled)
        return {"canceled": canceled, "not_canceled": not_canceled}

    def open_orders(self, owner: str | None = None) -> list[Order]:
        return [
            o
            for orders in self.resting.values()
            for o in orders
            if owner is None or o.owner == owner
        ]

    def cancel_all(self, owner: str, market: str | None = None, token: str | None = None) -> dict:
        ids = [
            o.id
            for o in self.open_orders(owner)
            if (market is None or o.condition_id == market) and (token is None or o.token == token)
        ]
        return self.cancel(owner, ids)

    # ---- heartbeats -----------------------------------------------------------------------
    def heartbeat(self, owner: str, heartbeat_id: str) -> tuple[int, dict]:
        current = self.heartbeats.get(owner)
        if heartbeat_id and (current is None or current[0] != heartbeat_id):
            expected = current[0] if current else ""
            return 400, {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": expected}
        new_id = str(uuid.uuid4())
        self.heartbeats[owner] = (new_id, self.clock())
        return 200, {"heartbeat_id": new_id}
