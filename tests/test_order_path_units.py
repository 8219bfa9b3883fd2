"""The order path's rules on the venue's exact answers, without a venue (issue 14,
docs/venue.md "Order-path behaviours"): the answers are the SDK's own error objects and models
or the wire texts the sandbox drills (tests/test_order_path.py) produce over HTTP."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from polymarket.errors import RateLimitError, RequestRejectedError

from live.journal.codec import parse_line, to_json
from live.kernel.domain import OrderSide, taker_fee
from live.kernel.events import OrderAck
from live.venues import posting
from live.venues.errors import VenueQueryError
from live.venues.execution import ExecutionStatus, build_execution
from live.venues.fees import fill_fee
from live.venues.messages import OurFill, TradeView, order_status
from live.venues.posting import OrderRequest, Posted, Progress, post_without_duplicates
from live.venues.readiness import Readiness, is_not_ready
from live.venues.retry import Backoff

NO_WAIT = Backoff(max_retries=3, base_s=0.0, max_s=0.0)


async def _no_sleep(_s: float) -> None:
    return None


def _error(status: int) -> Exception:
    if status == 429:
        return RateLimitError("rate limited", retry_after=None, rate_limit=None)
    return RequestRejectedError("the matching engine is restarting", status=status)


def _post_with(statuses: list[int], lookups: list[int]):
    answers = iter(statuses)

    async def post() -> Posted:
        status = next(answers, None)
        if status is None:
            return Posted("0xabc", "matched", ("t-1",))
        raise _error(status)

    async def lookup() -> Posted | None:
        lookups.append(1)
        return None

    return post, lookup


# ---------------------------------------------------------------- O6


def test_order_statuses_with_and_without_the_v2_prefix_read_the_same():
    for raw, plain in [
        ("ORDER_STATUS_LIVE", "LIVE"),
        ("ORDER_STATUS_MATCHED", "MATCHED"),
        ("ORDER_STATUS_DELAYED", "DELAYED"),
        ("ORDER_STATUS_CANCELED_MARKET_RESOLVED", "CANCELED_MARKET_RESOLVED"),
        ("live", "LIVE"),
        ("UNMATCHED", "UNMATCHED"),
    ]:
        assert order_status(raw) == plain


# ---------------------------------------------------------------- O2


def test_every_attempt_answered_425_is_rejected_not_ready_without_a_lookup():
    lookups: list[int] = []
    post, lookup = _post_with([425, 425, 429, 425], lookups)
    posted, notes = asyncio.run(
        post_without_duplicates(post, lookup, NO_WAIT, random.Random(1), _no_sleep)
    )
    assert posted is not None and not posted.accepted and posted.not_ready
    assert posted.error == "venue not ready: HTTP 425/429 on all 4 attempts"
    assert lookups == [] and len(notes) == 4


@given(st.lists(st.sampled_from([425, 429, 500, 503]), min_size=4, max_size=4))
def test_an_unanswered_post_is_unknown_only_if_some_attempt_may_have_been_processed(statuses):
    """Safety: 425 / 429 mean "not processed"; only a 5xx (maybe processed) leaves the order's
    fate to the targeted lookup, and without its answer the order is UNKNOWN (None)."""
    lookups: list[int] = []
    post, lookup = _post_with(statuses, lookups)
    posted, _ = asyncio.run(
        post_without_duplicates(post, lookup, NO_WAIT, random.Random(1), _no_sleep)
    )
    if all(s in (425, 429) for s in statuses):
        assert posted is not None and posted.not_ready and lookups == []
    else:
        assert posted is None and lookups  # fate unknown: resolved later, never re-posted


def test_restart_pause_doubles_to_its_cap_alerts_once_and_ends_on_an_answer():
    now = [100.0]
    readiness = Readiness(base_s=2.0, max_s=5.0, clock=lambda: now[0])
    assert readiness.refusal() is None
    readiness.not_ready("HTTP 425")
    assert readiness.take_alert() is not None and readiness.take_alert() is None
    assert readiness.refusal().startswith("venue not ready")
    now[0] += 2.0
    assert readiness.refusal() is None  # the pause is over: probe the venue again
    readiness.not_ready("HTTP 425")  # still restarting: 4 s, then capped at 5 s
    now[0] += 3.9
    assert readiness.refusal() is not None
    readiness.not_ready("HTTP 425")
    now[0] += 5.0
    assert readiness.refusal() is None and readiness.take_alert() is None
    readiness.ready()
    assert readiness.restarting is False and readiness.episodes == 1


def test_post_only_refusal_and_425_read_as_not_ready_other_refusals_do_not():
    assert is_not_ready(425, "")
    assert is_not_ready(400, "the matching engine is in post-only mode: only post-only orders")
    assert not is_not_ready(400, "not enough balance / allowance")


# ---------------------------------------------------------------- O4


def test_taker_fee_follows_the_market_schedule_when_the_trade_says_zero_bps():
    fill = OurFill("0xo", Decimal("0.43"), Decimal("11.62"), Decimal(0), "TAKER")
    fee = fill_fee(fill, "tok", lambda _token: Decimal("0.07"))  # 11.62 × .07 × .43 × .57
    assert (
        fee == taker_fee(Decimal("11.62"), Decimal("0.07"), Decimal("0.43")) == Decimal("0.19936")
    )
    maker = OurFill("0xo", Decimal("0.43"), Decimal("11.62"), Decimal(0), "MAKER")
    assert fill_fee(maker, "tok", lambda _token: Decimal("0.07")) == 0
    unknown_market = OurFill("0xo", Decimal("0.43"), Decimal("11.62"), Decimal("0.1"), "TAKER")
    assert fill_fee(unknown_market, "tok", lambda _token: None) == Decimal("0.1")


# ---------------------------------------------------------------- O1


def test_matching_pending_ack_round_trips_through_the_journal_and_old_acks_read_as_zero():
    ack = OrderAck(1_000, "c-1", "0xabc", matching_pending_ms=30_000)
    assert parse_line(to_json(ack)) == ack
    old = '{"ts":1000,"kind":"order_ack","client_order_id":"c-1","venue_order_id":"0xabc"}'
    assert parse_line(old) == OrderAck(1_000, "c-1", "0xabc")


# ---------------------------------------------------------------- O7


def test_a_lookup_failing_unexpectedly_is_logged_counted_and_leaves_the_fate_unknown(caplog):
    async def broken() -> Posted | None:
        raise KeyError("maker_orders")  # a parsing bug, not a venue failure

    async def failing() -> Posted | None:
        raise VenueQueryError("trades", "HTTP 503")

    before = posting.unexpected_lookup_errors
    notes: list[str] = []
    assert asyncio.run(posting._safe_lookup(broken, notes)) is None
    assert posting.unexpected_lookup_errors == before + 1
    assert "targeted lookup failed unexpectedly" in caplog.text
    assert asyncio.run(posting._safe_lookup(failing, notes)) is None
    assert posting.unexpected_lookup_errors == before + 1  # an expected failure: noted only
    assert notes[1].startswith("targeted lookup failed: venue query 'trades'")


def test_a_delayed_post_is_pending_until_the_lookup_says_otherwise_then_ends_on_its_trades():
    req = OrderRequest("c-1", "tok", OrderSide.BUY, "FAK", Decimal("3"), Decimal("0.99"))
    delayed = Posted("0xo", "delayed")  # the venue's answer: no amounts, no trade ids

    def progress(status: str | None, trades: tuple = ()) -> Progress:
        p = Progress(req, delayed, fee_rate=lambda _t: Decimal("0.07"))
        p.venue_status, p.trades = status, {t.trade_id: t for t in trades}
        return p

    fill = OurFill("0xo", Decimal("0.5"), Decimal("6"), Decimal(0), "TAKER")
    trade = TradeView("t-1", "MATCHED", "tok", "BUY", 1_000, (fill,))
    assert not progress(None).answered() and not progress("DELAYED").answered()
    assert not progress("MATCHED").answered()  # matched: its trades are still to come
    unmatched = build_execution(req, delayed, progress("UNMATCHED"), 2_000, None)
    assert unmatched.status is ExecutionStatus.CANCELLED and unmatched.reason == "nothing filled"
    matched = build_execution(req, delayed, progress("GONE", (trade,)), 2_000, None)
    assert matched.status is ExecutionStatus.FILLED and matched.filled_shares == Decimal("6")
    assert matched.fee == taker_fee(Decimal("6"), Decimal("0.07"), Decimal("0.5"))
