"""Issue 14, row "every historical message format": one fixture per shape under
tests/fixtures/venue_shapes/ (written from the public docs' field lists, fake ids), each read by
the live parser (live/venues/messages.py, discovery.py, account.py) AND the converter
(`updown convert polymarket-ws`, live/convert/polymarket_ws.py), and both must agree.
Also the exact venue trade record of a cross-match (row "cross-matched fills")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from polymarket.models.clob.account import ClobTrade

from live.convert.polymarket_ws import convert
from live.kernel.events import BookDelta, BookSnapshot, Trade
from live.venues import account
from live.venues.discovery import GammaShapeError, Listing, parse_gamma_market
from live.venues.messages import (
    MarketResolved,
    TickSizeChange,
    TradeView,
    UserOrderEvent,
    parse_market_message,
    parse_user_message,
    trade_view,
)

SHAPES = Path(__file__).parent / "fixtures" / "venue_shapes"
OUR_KEY = "fake-our-key"


def load(name: str) -> dict:
    return json.loads((SHAPES / name).read_text())


def live_market(name: str) -> list:
    return [r.event for r in parse_market_message(load(name), 1)]


def converted(name: str):
    return convert(SHAPES / name)


def as_floats(deltas: list[dict]) -> list[tuple]:
    return [(d["token_id"], d["side"], float(d["price"]), float(d["size"])) for d in deltas]


PRICE_CHANGE_SHAPES = [
    "market_price_change_2024.json",
    "market_price_change_2025_changes.json",
    "market_price_change_current.json",
]


def expected_levels(message: dict) -> list[tuple]:
    """The levels a price_change carries, read straight from the fixture's fields."""
    side = {"BUY": "bid", "SELL": "ask"}
    if "price_changes" in message:
        items = [(c["asset_id"], c) for c in message["price_changes"]]
    elif "changes" in message:
        items = [(message["asset_id"], c) for c in message["changes"]]
    else:
        items = [(message["asset_id"], message)]
    return [(t, side[c["side"]], float(c["price"]), float(c["size"])) for t, c in items]


@pytest.mark.parametrize("name", PRICE_CHANGE_SHAPES)
def test_every_price_change_shape_gives_the_same_levels_to_parser_and_converter(name):
    message = load(name)
    live = live_market(name)
    assert all(isinstance(e, BookDelta) for e in live)
    live_levels = [(e.token_id, e.side, e.price, e.size) for e in live]
    assert live_levels == expected_levels(message)
    result = converted(name)
    assert as_floats(result.events) == live_levels
    assert {e["ts"] for e in result.events} == {int(message["timestamp"])}
    assert {e.ts for e in live} == {int(message["timestamp"])}


def test_book_and_last_trade_agree_between_parser_and_converter():
    (book,) = live_market("market_book.json")
    assert isinstance(book, BookSnapshot)
    (event,) = converted("market_book.json").events
    assert [list(map(float, lv)) for lv in event["bids"]] == [list(lv) for lv in book.bids]
    assert [list(map(float, lv)) for lv in event["asks"]] == [list(lv) for lv in book.asks]
    assert book.bids[0][0] > book.bids[-1][0] and book.asks[0][0] < book.asks[-1][0]
    (trade,) = live_market("market_last_trade_price.json")
    assert isinstance(trade, Trade)
    (print_,) = converted("market_last_trade_price.json").events
    assert (print_["token_id"], float(print_["price"]), print_["side"]) == (
        trade.token_id,
        trade.price,
        trade.side,
    )


def test_tick_size_change_is_parsed_and_counted_by_the_converter():
    message = load("market_tick_size_change.json")
    (change,) = live_market("market_tick_size_change.json")
    assert isinstance(change, TickSizeChange)
    assert change.new_tick == Decimal(message["new_tick_size"])
    assert change.old_tick == Decimal(message["old_tick_size"])
    result = converted("market_tick_size_change.json")
    assert result.events == [] and result.skipped["tick_size_change"] == 1


@pytest.mark.parametrize(
    "name, kind",
    [("market_best_bid_ask.json", "best_bid_ask"), ("market_new_market.json", "new_market")],
)
def test_custom_feature_events_are_recognised_never_an_error(name, kind):
    assert live_market(name) == []  # no engine event: known and ignored by the live parser
    result = converted(name)
    assert result.events == [] and result.skipped[kind] == 1


def test_market_resolved_without_a_known_slug_is_kept_and_counted():
    message = load("market_resolved.json")
    (resolved,) = live_market("market_resolved.json")
    assert isinstance(resolved, MarketResolved)
    assert resolved.winning_token == message["winning_asset_id"]
    assert converted("market_resolved.json").skipped["market_resolved"] == 1


def test_user_order_is_parsed_and_counted():
    (received,) = parse_user_message(load("user_order.json"), 1, OUR_KEY)
    assert isinstance(received.event, UserOrderEvent)
    assert received.event.type == "PLACEMENT"
    assert converted("user_order.json").skipped["order"] == 1


def test_clob_trade_record_and_its_page_are_read_by_both():
    record = load("rest_clob_trade.json")
    view = trade_view(record, OUR_KEY)
    assert view.status == "CONFIRMED" and view.ts == int(record["match_time"]) * 1000
    (fill,) = view.fills
    assert (fill.role, fill.token_id, fill.side) == ("TAKER", record["asset_id"], record["side"])
    (event,) = converted("rest_clob_trade.json").events
    assert (event["ts"], event["token_id"]) == (view.ts, view.token_id)
    page = load("rest_clob_trades_page.json")
    views = [trade_view(item, OUR_KEY) for item in page["data"]]
    events = converted("rest_clob_trades_page.json").events
    assert sorted(e["ts"] for e in events) == sorted(v.ts for v in views)
    assert len(events) == len(page["data"]) == 2


def test_gamma_event_converts_its_up_down_market_and_skips_the_other():
    event = load("gamma_event.json")
    updown, other = event["markets"]
    result = converted("gamma_event.json")
    windows = [e for e in result.events if e["kind"] == "window"]
    assert {w["slug"] for w in windows} == {updown["slug"]}
    assert result.skipped["gamma_market (not an Up/Down window)"] == 1
    listing = parse_gamma_market(updown)
    assert isinstance(listing, Listing)
    assert (listing.window.token_up, listing.window.token_down) == (
        windows[-1]["token_up"],
        windows[-1]["token_down"],
    )
    with pytest.raises(GammaShapeError, match="not an Up/Down"):
        parse_gamma_market(other)


def test_gamma_market_that_is_no_up_down_window_is_skipped_not_an_error():
    result = converted("gamma_market_not_updown.json")
    assert result.events == []
    assert result.skipped["gamma_market (not an Up/Down window)"] == 1


# ------------------------------------------------------------------ cross-matching


def _cross_rest_record() -> dict:
    """The REST shape of the cross-matched user-channel trade fixture."""
    ws = load("user_trade_cross_matched.json")
    rest = {k: v for k, v in ws.items() if k not in ("event_type", "type", "timestamp")}
    rest.update(
        match_time=ws["matchtime"], bucket_index=0, maker_address="0xfake", status="MATCHED"
    )
    return rest


def test_cross_matched_maker_fill_takes_token_side_price_and_size_from_its_entry():
    message = load("user_trade_cross_matched.json")
    entry = message["maker_orders"][0]
    assert entry["asset_id"] != message["asset_id"]  # the fixture is a mint: other token
    (received,) = parse_user_message(message, 1, OUR_KEY)
    view = received.event
    assert isinstance(view, TradeView)
    (fill,) = view.fills
    assert fill.role == "MAKER" and fill.venue_order_id == entry["order_id"]
    assert (fill.token_id, fill.side) == (entry["asset_id"], entry["side"])
    assert (fill.price, fill.shares) == (Decimal(entry["price"]), Decimal(entry["matched_amount"]))
    (booked,) = account.venue_trades([view])
    assert (booked.token_id, booked.side, booked.price) == (
        entry["asset_id"],
        entry["side"],
        Decimal(entry["price"]),
    )


def test_cross_matched_rest_record_through_the_sdk_model_keeps_the_entry_token():
    record = _cross_rest_record()
    entry = record["maker_orders"][0]
    view = account.sdk_trade_view(ClobTrade.model_validate(record), OUR_KEY)
    (fill,) = view.fills
    assert (fill.token_id, fill.side) == (entry["asset_id"], entry["side"])
    assert view.token_id == record["asset_id"] != fill.token_id


def test_maker_entry_without_token_or_side_sits_opposite_the_taker_on_the_trade_token():
    message = load("user_trade_cross_matched.json")
    entry = {k: v for k, v in message["maker_orders"][0].items() if k not in ("asset_id", "side")}
    (fill,) = trade_view({**message, "maker_orders": [entry]}, OUR_KEY).fills
    assert (fill.token_id, fill.side) == (message["asset_id"], "SELL")
