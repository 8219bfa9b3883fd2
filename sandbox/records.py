"""Venue-side order and trade records (mutable: the exchange advances their status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from sandbox.ledger import Booking


class OrderStatus(StrEnum):
    LIVE = "LIVE"
    DELAYED = "DELAYED"  # the delay_orders fault: answered "delayed", matched a moment later
    UNMATCHED = "UNMATCHED"  # a delayed marketable order that found nothing to match
    MATCHED = "MATCHED"
    CANCELED = "CANCELED"
    CANCELED_MARKET_RESOLVED = "CANCELED_MARKET_RESOLVED"
    CANCELED_EXPIRED_ORDER = "CANCELED_EXPIRED_ORDER"


class TradeStatus(StrEnum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


# Not yet on chain: what such a trade moved is not spendable when settled_spend_only is on.
UNSETTLED = (TradeStatus.MATCHED, TradeStatus.RETRYING)
TERMINAL = (TradeStatus.CONFIRMED, TradeStatus.FAILED)


@dataclass(slots=True)
class Order:
    id: str
    owner: str
    address: str
    slug: str
    condition_id: str
    token: str
    outcome: str
    side: str
    price: Decimal
    original_size: Decimal
    order_type: str
    expiration: int
    created_at: int
    size_matched: Decimal = Decimal(0)
    status: OrderStatus = OrderStatus.LIVE
    trade_ids: list[str] = field(default_factory=list)
    silent: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.original_size - self.size_matched

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.LIVE, OrderStatus.DELAYED)


@dataclass(slots=True)
class Trade:
    """One fill as seen by one owner (a user-vs-user fill yields two records, same id)."""

    id: str
    owner: str
    address: str
    taker_order_id: str
    condition_id: str
    token: str
    outcome: str
    side: str
    price: Decimal
    size: Decimal
    fee: Decimal
    fee_rate_bps: Decimal
    trader_side: str
    match_time: int
    maker_order_id: str
    maker_address: str
    maker_owner: str
    status: TradeStatus = TradeStatus.MATCHED
    last_update: int = 0
    matched_at: float = 0.0  # clock time of the match
    mined_at: float = 0.0  # MINED (or RETRYING, for a trade that fails) at this clock time
    confirmed_at: float = 0.0  # CONFIRMED (or FAILED) at this clock time
    fails: bool = False  # the fail_trades fault: MATCHED -> RETRYING -> FAILED, fill reversed
    booking: Booking | None = None  # what the fill moved in the ledger (undone on FAILED)
    silent: bool = False
    rest_prefix: bool = False  # REST says TRADE_STATUS_<status>, as the venue does
    tx_hash: str = ""
    # cross_match: the taker was on the other token of the market with the same side (a BUY
    # of Up against a BUY of Down mints a pair); the record's top level shows the taker's
    # token, outcome and price (1 - ours), our maker entry keeps ours. See sandbox/crossing.py.
    cross_token: str = ""
    cross_outcome: str = ""
