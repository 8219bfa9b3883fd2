"""Pure matching: walk the opposite side of a book best-first and produce fills."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

SHARE_UNIT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Offer:
    """Resting liquidity: `order_id` is None for the sandbox's market maker."""

    price: Decimal
    size: Decimal
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    price: Decimal
    size: Decimal
    order_id: str | None


def _floor_shares(value: Decimal) -> Decimal:
    return value.quantize(SHARE_UNIT, rounding=ROUND_FLOOR)


def crosses(side: str, limit: Decimal, price: Decimal) -> bool:
    return price <= limit if side == "BUY" else price >= limit


def take(
    side: str,
    limit: Decimal,
    offers: list[Offer],
    max_shares: Decimal | None = None,
    max_dollars: Decimal | None = None,
) -> list[Fill]:
    """Fill against `offers` (best first) up to a share or dollar budget, never past `limit`."""
    fills: list[Fill] = []
    shares_left = max_shares
    dollars_left = max_dollars
    for offer in offers:
        if not crosses(side, limit, offer.price):
            break
        size = offer.size
        if shares_left is not None:
            size = min(size, shares_left)
        if dollars_left is not None:
            size = min(size, _floor_shares(dollars_left / offer.price))
        size = _floor_shares(size)
        if size <= 0:
            break
        fills.append(Fill(price=offer.price, size=size, order_id=offer.order_id))
        if shares_left is not None:
            shares_left -= size
        if dollars_left is not None:
            dollars_left -= size * offer.price
    return fills
