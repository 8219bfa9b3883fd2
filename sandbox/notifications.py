"""Account notifications (`GET /notifications`, `DELETE /notifications?ids=`): the shapes of the
SDK's `Notification` union for the kinds the sandbox produces — AUTO_REDEEMED (9) when the venue's
operator redeemed a winning position, ORDER_FILL_FAILED (8) when a fill failed on chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sandbox.records import Order, Trade
from sandbox.wire import num

ORDER_FILL_FAILED = 8
AUTO_REDEEMED = 9
KEEP = 1000  # per account


@dataclass(slots=True)
class Notifications:
    """Notifications per account (lower-case address), oldest first."""

    by_address: dict[str, list[dict]] = field(default_factory=dict)
    next_id: int = 1

    def add(self, address: str, kind: int, payload: dict, now: float) -> dict:
        item = {"id": self.next_id, "type": kind, "timestamp": int(now), "payload": payload}
        self.next_id += 1
        items = self.by_address.setdefault(address.lower(), [])
        items.append(item)
        del items[:-KEEP]
        return item

    def of(self, address: str, owner: str) -> list[dict]:
        """The account's notifications as the CLOB lists them to one API key."""
        return [item | {"owner": owner} for item in self.by_address.get(address.lower(), [])]

    def drop(self, address: str, ids: set[int]) -> None:
        items = self.by_address.get(address.lower(), [])
        items[:] = [item for item in items if item["id"] not in ids]

    def auto_redeemed(
        self, address: str, window, amount: Decimal, tx_hash: str, now: float
    ) -> dict:
        """An AUTO_REDEEMED notification (`AutoRedeemedNotificationPayload`)."""
        payload = {
            "proxyWallet": address,
            "amount": num(amount),
            "conditionId": window.condition_id,
            "question": f"{window.asset} Up or Down ({window.slug})",
            "image": "",
            "slug": window.slug,
            "position": None,
            "negRisk": False,
            "txnHash": tx_hash,
        }
        return self.add(address, AUTO_REDEEMED, payload, now)

    def order_fill_failed(self, trade: Trade, order: Order, now: float) -> dict:
        """An ORDER_FILL_FAILED notification (`OrderNotificationPayload`)."""
        payload = {
            "asset_id": trade.token,
            "market": trade.condition_id,
            "order_id": order.id,
            "side": trade.side,
            "type": order.order_type,
            "price": num(trade.price),
            "original_size": num(order.original_size),
            "matched_size": num(trade.size),
            "remaining_size": num(max(order.remaining, Decimal(0))),
            "outcome": trade.outcome,
            "outcome_index": 0 if trade.outcome == "Up" else 1,
            "transaction_hash": "",
            "trade_id": trade.id,
            "market_slug": order.slug,
        }
        return self.add(trade.address, ORDER_FILL_FAILED, payload, now)
