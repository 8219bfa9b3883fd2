"""No traceback for any venue message: every WebSocket frame (market, user, price channels) and
every HTTP record the adapter parses (REST book, trades, Gamma markets), generated from the real
recorded messages in shared/data/real/polymarket_messages by replacing, removing and adding
fields at any depth, and from arbitrary JSON and text. Each either parses or is refused with
MessageError / GammaShapeError naming the field; a feed counts a refused frame and goes on.
Budgets: tests/fuzz_kit.py."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from fuzz_kit import JSON, deep_mutated, fuzz, mutated, real_json, tally
from hypothesis import example, given
from hypothesis import strategies as st

from live.venues.discovery import Listing, NotTradable, parse_gamma_market
from live.venues.errors import GammaShapeError
from live.venues.messages import (
    MessageError,
    Received,
    parse_market_message,
    parse_price_message,
    parse_user_message,
    rest_book,
    trade_view,
)
from live.venues.streams import FeedSocket

API_KEY = "3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe"
MARKET_KINDS = ("book", "price_change", "price_change_v2", "last_trade_price", "tick_size_change")
MARKET_SEEDS = [real_json(f"ws/{n}.json") for n in MARKET_KINDS]
MARKET_SEEDS.append({"event_type": "market_resolved", "market": "0xc", "timestamp": "1",
                     "winning_outcome": "Up", "winning_asset_id": "U"})  # fmt: skip
USER_SEEDS = [real_json(f"ws/{n}.json") for n in ("order_placement", "user_trade1", "user_trade2")]
PRICE_SEEDS = [real_json("ws/rtds_crypto_prices_update.json")]
GAMMA_SEED = real_json("http/gamma_market_btc_updown_5m.json")
REST_BOOK_SEED = real_json("http/book.json")


def frames(seeds: list) -> st.SearchStrategy:
    """A frame as the socket delivers it: a near miss of a real one, a list of them, or any."""
    one = st.one_of(*(deep_mutated(s) for s in seeds), *(mutated(s) for s in seeds))
    return st.one_of(one, st.lists(one, max_size=3), JSON)


def _clean(result: list) -> None:
    assert isinstance(result, list) and all(isinstance(r, Received) for r in result)


@fuzz(sample=150, campaign=12_000)
@given(frame=frames(MARKET_SEEDS))
@example({"event_type": "book", "asset_id": "T", "timestamp": "1", "bids": [None]})  # crashed
@example({"event_type": "price_change", "timestamp": "1", "price_changes": [1]})  # crashed
@example({"event_type": "last_trade_price", "asset_id": "T", "timestamp": "NaN", "side": "BUY",
          "price": "0.5", "size": "1"})  # fmt: skip
def test_market_channel(frame):
    tally("ws market channel")
    try:
        _clean(parse_market_message(frame, 1, {"0xc": "btc-updown-5m-1"}))
    except MessageError as exc:
        assert str(exc)


@fuzz(sample=150, campaign=12_000)
@given(frame=frames(USER_SEEDS))
@example({**USER_SEEDS[0], "size_matched": "x"})  # crashed: ValueError, not MessageError
@example({**USER_SEEDS[1], "trader_side": "MAKER", "maker_orders": [None]})  # crashed
def test_user_channel(frame):
    tally("ws user channel")
    try:
        _clean(parse_user_message(frame, 1, API_KEY))
    except MessageError as exc:
        assert str(exc)


@fuzz(sample=100, campaign=6_000)
@given(frame=frames(PRICE_SEEDS))
@example(
    {
        **PRICE_SEEDS[0],
        "payload": {
            **PRICE_SEEDS[0]["payload"],
            "value": None,
            "full_accuracy_value": "61035860000000000000000",
        },
    }
)
def test_price_channel(frame):
    tally("ws price channel")
    try:
        _clean(parse_price_message(frame, 1))
    except MessageError as exc:
        assert str(exc)


@fuzz(sample=100, campaign=6_000)
@given(
    text=st.one_of(
        frames(MARKET_SEEDS).map(json.dumps),
        st.text(max_size=40),
        st.binary(max_size=40),
        st.sampled_from(["PONG", "pong ", "[]", "{}", "null", "[[[]]]", '{"event_type": 1}']),
    )
)
def test_a_feed_counts_a_bad_frame_and_goes_on(text):
    """The stream's own frame handler (bytes, text, JSON or not) never raises."""
    tally("ws frame handler")
    feed = FeedSocket("market", "ws://unused", {}, lambda m, r: parse_market_message(m, r, {}))
    try:
        text.decode() if isinstance(text, bytes) else text
    except UnicodeDecodeError:
        text = text.decode("latin-1")  # the websocket library hands text frames as str
    before = feed.bad_messages
    _clean(feed._frame(text))
    assert feed.bad_messages in (before, before + 1)


@fuzz(sample=100, campaign=6_000)
@given(row=st.one_of(deep_mutated(USER_SEEDS[1]), mutated(USER_SEEDS[2]), JSON))
def test_rest_trade_rows(row):
    """A REST trade row (the same shape as the user channel's `trade`)."""
    tally("http trades")
    try:
        view = trade_view(row, API_KEY)
    except MessageError as exc:
        assert str(exc)
    else:
        assert view.trade_id and view.status and all(f.venue_order_id for f in view.fills)


NUMBER = st.one_of(JSON, st.decimals())
LEVEL = st.one_of(
    st.builds(SimpleNamespace, price=NUMBER, size=NUMBER),
    st.builds(SimpleNamespace, price=st.sampled_from(["0.5", "0.01"]), size=st.just("10")),
)


@fuzz(sample=100, campaign=6_000)
@given(
    bids=st.lists(LEVEL, max_size=4),
    asks=st.lists(LEVEL, max_size=4),
    timestamp=st.one_of(JSON, st.just(REST_BOOK_SEED.get("timestamp", "0"))),
)
@example(bids=[SimpleNamespace(price="sNaN", size="1")], asks=[], timestamp="1")  # crashed
@example(bids=[], asks=[SimpleNamespace(price=None, size="1")], timestamp="x")  # crashed
def test_rest_book(bids, asks, timestamp):
    """The SDK's REST OrderBook → a journal `book` event, whatever its fields hold."""
    tally("http book")
    book = SimpleNamespace(bids=bids, asks=asks, timestamp=timestamp)
    try:
        snapshot = rest_book("T", book)
    except MessageError as exc:
        assert str(exc)
    else:
        assert snapshot.token_id == "T" and snapshot.ts >= 0


@fuzz(sample=150, campaign=12_000)
@given(record=st.one_of(deep_mutated(GAMMA_SEED), mutated(GAMMA_SEED), JSON))
def test_gamma_market_records(record):
    tally("http gamma market")
    try:
        found = parse_gamma_market(record, fallback_fee_rate=Decimal("0.07"))
    except GammaShapeError as exc:
        assert exc.field and exc.problem
    else:
        assert isinstance(found, Listing | NotTradable)


def test_the_seeds_are_real_and_parse():
    """The generators start from messages that parse (so near misses are near)."""
    for seed in MARKET_SEEDS:
        assert parse_market_message(seed, 1, {"0xc": "btc-updown-5m-1"})
    for seed in USER_SEEDS:
        assert parse_user_message(seed, 1, API_KEY)
    assert parse_price_message(PRICE_SEEDS[0], 1)
    assert isinstance(parse_gamma_market(GAMMA_SEED, fallback_fee_rate=Decimal("0.07")), Listing)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
