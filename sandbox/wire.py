"""Serialisers: venue records to the JSON shapes Polymarket sends over REST and WebSocket."""

from __future__ import annotations

from decimal import Decimal

from sandbox.quotes import Level
from sandbox.records import Order, Trade

MAKER_BOT_ADDRESS = "0x5a4dB0C0000000000000000000000000000000A1"
MAKER_BOT_OWNER = "00000000-0000-4000-8000-00000000b07"


def num(value: Decimal) -> str:
    """Decimal to a plain string without exponent or trailing zeros ("0.5", "12.34")."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0",) else "0"


def levels_json(levels: list[Level], descending: bool) -> list[dict]:
    ordered = sorted(levels, key=lambda lvl: lvl.price, reverse=descending)
    return [{"price": num(lvl.price), "size": num(lvl.size)} for lvl in ordered]


def order_json(order: Order, prefixed: bool = False) -> dict:
    """REST `OpenOrder` shape (also the body of user-channel order events); `prefixed`: the V2
    order lookup's `ORDER_STATUS_LIVE` spelling (realism `order_status_prefixed`)."""
    return {
        "id": order.id,
        "status": ("ORDER_STATUS_" if prefixed else "") + order.status.value,
        "owner": order.owner,
        "maker_address": order.address,
        "market": order.condition_id,
        "asset_id": order.token,
        "side": order.side,
        "original_size": num(order.original_size),
        "size_matched": num(order.size_matched),
        "price": num(order.price),
        "outcome": order.outcome,
        "expiration": str(order.expiration),
        "order_type": order.order_type,
        "associate_trades": list(order.trade_ids),
        "created_at": order.created_at,
    }


def order_event(order: Order, kind: str, now_ms: int) -> dict:
    body = order_json(order)
    body.update(
        event_type="order",
        type=kind,
        order_owner=order.owner,
        created_at=str(order.created_at),
        timestamp=str(now_ms),
    )
    return body


def _maker_entry(trade: Trade) -> dict:
    return {
        "order_id": trade.maker_order_id,
        "owner": trade.maker_owner,
        "maker_address": trade.maker_address,
        "matched_amount": num(trade.size),
        "price": num(trade.price),
        "fee_rate_bps": "0",
        "asset_id": trade.token,
        "outcome": trade.outcome,
        "side": (
            "SELL"
            if trade.side == "BUY" and trade.trader_side == "TAKER" and not trade.cross_token
            else trade.side
        ),
    }


def trade_json(trade: Trade) -> dict:
    """REST `ClobTrade` shape. A cross-matched trade shows the taker's token and price at the
    top level; our maker entry keeps our own token, side and price."""
    cross = bool(trade.cross_token)
    return {
        "id": trade.id,
        "taker_order_id": trade.taker_order_id,
        "market": trade.condition_id,
        "asset_id": trade.cross_token if cross else trade.token,
        "side": trade.side,
        "size": num(trade.size),
        "fee_rate_bps": num(trade.fee_rate_bps),
        "price": num(1 - trade.price if cross else trade.price),
        "status": ("TRADE_STATUS_" if trade.rest_prefix else "") + trade.status.value,
        "match_time": str(trade.match_time),
        "last_update": str(trade.last_update),
        "outcome": trade.cross_outcome if cross else trade.outcome,
        "bucket_index": 0,
        "owner": trade.owner,
        "maker_address": trade.address,
        "transaction_hash": trade.tx_hash,
        "trader_side": trade.trader_side,
        "maker_orders": [_maker_entry(trade)],
        "fee": num(trade.fee),
    }


def trade_event(trade: Trade, now_ms: int) -> dict:
    body = trade_json(trade)
    body.update(
        event_type="trade",
        type="TRADE",
        status=trade.status.value,  # the stream says MATCHED, REST (venue) TRADE_STATUS_MATCHED
        trade_owner=trade.owner,
        timestamp=str(now_ms),
    )
    return body
