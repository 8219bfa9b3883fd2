"""The adapter's parsers against the real recorded Polymarket messages (shared/data/real) and the
slug arithmetic. No network."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest

from live.kernel.domain import Asset, Outcome, SettlementRule
from live.kernel.events import BookDelta, BookSnapshot, OracleTick, Resolved, Trade
from live.venues.discovery import (
    Listing,
    NotTradable,
    current_and_next_slugs,
    parse_gamma_market,
    window_epoch,
    window_label,
)
from live.venues.errors import GammaShapeError
from live.venues.messages import (
    TickSizeChange,
    UserOrderEvent,
    parse_market_message,
    parse_price_message,
    parse_user_message,
    rest_book,
    trade_view,
)


def load(shared_data, *parts):
    return json.loads((shared_data / "polymarket_messages" / "/".join(parts)).read_text())


def test_slugs_use_the_window_start_epoch():
    assert window_epoch(1773307499.9, 300) == 1773307200
    assert current_and_next_slugs("BTC", 300, 1773307499.9) == (
        "btc-updown-5m-1773307200",
        "btc-updown-5m-1773307500",
    )
    assert current_and_next_slugs("eth", 900, 1773307200)[0] == "eth-updown-15m-1773306900"
    assert [window_label(n) for n in (10, 60, 300, 900, 3600)] == ["10s", "1m", "5m", "15m", "1h"]


def test_recorded_gamma_market_parses_with_event_start_not_start_date(shared_data):
    raw = load(shared_data, "http", "gamma_market_btc_updown_5m.json")
    found = parse_gamma_market(raw, fallback_fee_rate=Decimal("0.07"))
    assert isinstance(found, Listing)
    w = found.window
    assert w.slug == "btc-updown-5m-1773307200" and w.asset is Asset.BTC
    assert w.open_ts == 1773307200_000 and w.close_ts == 1773307500_000 and w.length_s == 300
    tokens = json.loads(raw["clobTokenIds"])
    assert (w.token_up, w.token_down) == (tokens[0], tokens[1])
    assert w.condition_id == raw["conditionId"]
    assert w.tick_size == Decimal("0.01") and w.min_size == Decimal("5")
    assert w.settlement_rule is SettlementRule.SPOT_AT_CLOSE and w.strike is None
    assert found.neg_risk is False and found.accepting_orders


def test_recorded_market_without_fee_schedule_needs_a_configured_rate(shared_data):
    raw = load(shared_data, "http", "gamma_market_btc_updown_5m.json")
    found = parse_gamma_market(raw)
    assert isinstance(found, NotTradable) and "fee rate unknown" in found.reason


def test_every_recorded_gamma_jsonl_market_parses_with_its_fee_schedule(shared_data):
    path = shared_data / "gamma_btc_5m_markets_2026-06-08.jsonl.gz"
    with gzip.open(path, "rt") as stream:
        rows = [json.loads(line) for line in stream if line.strip()]
    assert len(rows) > 200
    for row in rows:
        found = parse_gamma_market(row["raw"])
        assert isinstance(found, Listing), found
        w = found.window
        assert w.open_ts == row["start_sec"] * 1000 and w.close_ts == row["end_sec"] * 1000
        assert sorted([w.token_up, w.token_down]) == sorted(row["token_ids"])
        assert w.fee_rate == Decimal("0.07")
        if row["resolved"]:
            expected = Outcome.UP if row["outcome_prices"][0] == "1" else Outcome.DOWN
            assert found.winner is expected


def test_tokens_follow_the_outcome_label_not_the_position(shared_data):
    raw = load(shared_data, "http", "gamma_market_btc_updown_5m.json")
    tokens = json.loads(raw["clobTokenIds"])
    swapped = {**raw, "outcomes": '["Down", "Up"]'}
    found = parse_gamma_market(swapped, fallback_fee_rate=Decimal("0.07"))
    assert (found.window.token_up, found.window.token_down) == (tokens[1], tokens[0])


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"conditionId": ""}, "no conditionId"),
        ({"conditionId": None}, "no conditionId"),
        ({"clobTokenIds": ""}, "empty clobTokenIds"),
        ({"clobTokenIds": '["", ""]'}, "empty clobTokenIds"),
    ],
)
def test_a_market_just_created_is_reported_not_tradable(shared_data, change, reason):
    raw = {**load(shared_data, "http", "gamma_market_btc_updown_5m.json"), **change}
    found = parse_gamma_market(raw, fallback_fee_rate=Decimal("0.07"))
    assert isinstance(found, NotTradable) and reason in found.reason


def test_sandbox_shape_with_strike_twap_flag_and_fee_schedule():
    raw = {
        "slug": "eth-updown-10s-1795496070",
        "conditionId": "0xabc",
        "outcomes": '["Up", "Down"]',
        "clobTokenIds": '["11", "22"]',
        "startDate": "2026-11-23T00:00:00Z",
        "eventStartTime": "2026-11-24T00:54:30Z",
        "endDate": "2026-11-24T00:54:40Z",
        "orderPriceMinTickSize": 0.001,
        "orderMinSize": 5,
        "negRisk": False,
        "feeSchedule": {"rate": 0.072, "exponent": 1, "takerOnly": True},
        "eventMetadata": {"priceToBeat": "3120.55", "finalPrice": None},
        "cryptoMarketConfig": {"twapEnabled": True, "twapLookbackSeconds": 60},
    }
    w = parse_gamma_market(raw).window
    assert w.asset is Asset.ETH and w.length_s == 10
    assert w.tick_size == Decimal("0.001") and w.fee_rate == Decimal("0.072")
    assert w.strike == Decimal("3120.55") and w.settlement_rule is SettlementRule.TWAP_60S


def test_a_record_that_is_not_an_updown_market_is_a_shape_error():
    with pytest.raises(GammaShapeError, match="slug"):
        parse_gamma_market({"slug": "will-it-rain", "conditionId": "0x1"})


# ------------------------------------------------------------------ WebSocket messages


def test_recorded_book_is_sorted_best_first(shared_data):
    (received,) = parse_market_message(load(shared_data, "ws", "book.json"), 1)
    book = received.event
    assert isinstance(book, BookSnapshot) and received.source_ts == 1728799418260
    assert received.recv_ts == 1
    assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)


def test_both_price_change_formats_become_book_deltas(shared_data):
    old = parse_market_message(load(shared_data, "ws", "price_change.json"), 0)
    new = parse_market_message(load(shared_data, "ws", "price_change_v2.json"), 0)
    assert [type(r.event) for r in old] == [BookDelta]
    assert old[0].event.side == "ask" and old[0].event.price == 0.514
    assert len(new) == 3 and {r.event.side for r in new} == {"bid"}


def test_last_trade_and_tick_size_change_and_market_resolved(shared_data):
    (trade,) = parse_market_message(load(shared_data, "ws", "last_trade_price.json"), 0)
    assert isinstance(trade.event, Trade) and trade.event.side == "SELL"
    (tick,) = parse_market_message(load(shared_data, "ws", "tick_size_change.json"), 0)
    assert isinstance(tick.event, TickSizeChange) and tick.event.new_tick == Decimal("0.001")
    resolved = {"event_type": "market_resolved", "market": "0xc", "winning_asset_id": "7",
                "winning_outcome": "Up", "timestamp": "1700000000000"}  # fmt: skip
    (known,) = parse_market_message([resolved], 0, {"0xc": "btc-updown-5m-1"})
    assert known.event == Resolved(1700000000000, "btc-updown-5m-1", Outcome.UP)
    (unknown,) = parse_market_message([resolved], 0, {})
    assert unknown.event.condition_id == "0xc"


def test_recorded_user_trades_give_our_maker_fills_by_owner(shared_data):
    message = load(shared_data, "ws", "user_trade1.json")
    ours = next(m for m in message["maker_orders"] if m["matched_amount"] == "5")
    (received,) = parse_user_message(message, 0, ours["owner"])
    view = received.event
    assert view.status == "MINED" and not view.final
    assert [(f.venue_order_id, f.shares, f.role) for f in view.fills] == [
        (ours["order_id"], Decimal("5"), "MAKER")
    ]
    assert parse_user_message(load(shared_data, "ws", "user_trade2.json"), 0, "x")


def test_taker_fill_fee_uses_the_trade_fee_rate_and_rest_statuses_are_normalised():
    row = {"id": "t1", "status": "TRADE_STATUS_CONFIRMED", "asset_id": "9", "side": "BUY",
           "price": "0.6", "size": "10", "fee_rate_bps": "700", "trader_side": "TAKER",
           "taker_order_id": "0xo", "match_time": "1700000000"}  # fmt: skip
    view = trade_view(row, "me")
    assert view.final and view.status == "CONFIRMED" and view.ts == 1700000000000
    assert view.fills[0].fee == Decimal("0.16800")  # 10 × 0.07 × 0.6 × 0.4


def test_recorded_order_placement(shared_data):
    (received,) = parse_user_message(load(shared_data, "ws", "order_placement.json"), 0, "k")
    order = received.event
    assert isinstance(order, UserOrderEvent) and order.type == "PLACEMENT"
    assert order.original_size == Decimal("5") and order.size_matched == 0


def test_recorded_crypto_price_and_scaled_chainlink_twap(shared_data):
    (tick,) = parse_price_message(load(shared_data, "ws", "rtds_crypto_prices_update.json"), 9)
    assert tick.event == OracleTick(1780730269000, Asset.BTC, Decimal("61035.86000000"),
                                    "crypto_prices:btcusdt")  # fmt: skip
    twap = {"topic": "crypto_prices_twap_sixty", "type": "update", "timestamp": 1,
            "payload": {"symbol": "btc/usd", "timestamp": 1000, "value": 63123.54,
                        "full_accuracy_value": "63123544863797618000000"}}  # fmt: skip
    (scaled,) = parse_price_message(twap, 0)
    assert scaled.event.price == Decimal("63123.544863797618")


def test_the_sdks_rest_book_model_becomes_a_book_snapshot_with_its_time(shared_data):
    """The recorded REST book parsed by the SDK's own OrderBook (which turns the venue's epoch ms
    into a datetime) — what `PolymarketVenue.order_book` re-reads after a reconnect."""
    from polymarket.models.clob.order_book import OrderBook

    raw = json.loads((shared_data / "polymarket_messages/http/book.json").read_text())
    # the 2024 recording predates three fields today's /book carries (and the SDK requires)
    book = OrderBook.model_validate(
        {**raw, "min_order_size": "5", "tick_size": "0.01", "neg_risk": False}
    )
    snapshot = rest_book(raw["asset_id"], book)
    assert snapshot.ts == int(raw["timestamp"])
    assert snapshot.bids[0][0] == max(float(b["price"]) for b in raw["bids"])
    assert snapshot.asks[0][0] == min(float(a["price"]) for a in raw["asks"])
