"""Issue 15: the venue's answers to orders adopted after a crash (`resolve_from_venue`), from
the venue's own records (its open orders and our recent trades) as the runner's snapshot has
them."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from engine_kit import OPEN, listed, make_engine, signal, two_sided, window

from live.kernel.assertions import settlement_pnl_matches_balance
from live.kernel.domain import Mode, OrderState, Outcome
from live.kernel.events import (
    BalanceReport,
    FillSettled,
    OrderAck,
    OrderCancel,
    OrderFill,
    OrderReject,
    Redeemed,
    Resolved,
)
from live.runner.adoption import (
    redeemed_unseen,
    resolve_from_venue,
    settled_from_venue,
    settling_executions,
)
from live.venues.port import VenueOrder, VenueSnapshot, VenueTrade

W = window()
NOW = OPEN + 60_000


def adoption_with_one_order(state: OrderState = OrderState.SUBMITTED, vid: str | None = None):
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    for event in [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)]:
        engine.process(event)
    engine.process(BalanceReport(OPEN + 1500, Decimal("50")))
    (command,) = engine.process(signal(OPEN + 2000, W, usd="2", signal_id="s"))
    cid = command.order.client_order_id
    if vid is not None:
        engine.process(OrderAck(OPEN + 2100, cid, vid))
    adoption = engine.export_adoption()
    (adopted,) = adoption.orders
    order = replace(adopted.order, state=state)
    return replace(adoption, orders=(replace(adopted, order=order),)), cid


def trade(vid: str, token: str, shares: str, status: str = "CONFIRMED", n: int = 1) -> VenueTrade:
    return VenueTrade(
        f"t{n}",
        vid,
        token,
        "BUY",
        Decimal("0.52"),
        Decimal(shares),
        Decimal(0),
        status,
        OPEN + 2050,
    )


def snapshot(*trades: VenueTrade, open_ids: tuple[str, ...] = ()) -> VenueSnapshot:
    orders = tuple(
        VenueOrder(v, W.token_up, "BUY", Decimal("0.5"), Decimal(1), Decimal(0)) for v in open_ids
    )
    return VenueSnapshot(NOW, Decimal(50), {}, orders, tuple(trades))


def test_killed_after_the_post_before_the_ack_is_matched_to_its_trades() -> None:
    adoption, cid = adoption_with_one_order()
    events = resolve_from_venue(adoption, snapshot(trade("0xnew", W.token_up, "3.846")), (), NOW)
    assert [type(e) for e in events] == [OrderAck, OrderFill]
    assert events[0].venue_order_id == "0xnew" and events[1].fill_id == "t1:0xnew"
    assert events[1].shares == Decimal("3.846")


def test_a_fill_short_of_the_order_gets_its_rest_cancelled() -> None:
    adoption, cid = adoption_with_one_order()
    events = resolve_from_venue(adoption, snapshot(trade("0xnew", W.token_up, "1")), (), NOW)
    assert [type(e) for e in events] == [OrderAck, OrderFill, OrderCancel]


def test_never_executed_is_rejected_and_a_known_venue_order_is_not_matched() -> None:
    adoption, cid = adoption_with_one_order()
    (event,) = resolve_from_venue(adoption, snapshot(), (), NOW)
    assert isinstance(event, OrderReject) and "not found" in event.reason
    known = snapshot(trade("0xold", W.token_up, "3.846"))
    (event,) = resolve_from_venue(adoption, known, ("0xold",), NOW)
    assert isinstance(event, OrderReject)


def test_an_acked_order_gets_its_unbooked_trades_and_one_settling_is_booked_as_matched() -> None:
    adoption, cid = adoption_with_one_order(OrderState.ACKED, vid="0xv")
    events = resolve_from_venue(adoption, snapshot(trade("0xv", W.token_up, "3.846")), (), NOW)
    assert [type(e) for e in events] == [OrderFill]
    # a trade still settling is the order's answer too (issue 13): booked at its match, the
    # settlement follower then follows it to CONFIRMED or FAILED
    for status, booked_as in (("MATCHED", "MATCHED"), ("MINED", "MINED"), ("RETRYING", "MATCHED")):
        settling = snapshot(trade("0xv", W.token_up, "3.846", status=status))
        (fill,) = resolve_from_venue(adoption, settling, (), NOW)
        assert isinstance(fill, OrderFill) and fill.status == booked_as
    failed = snapshot(trade("0xv", W.token_up, "3.846", status="FAILED"))
    (cancel,) = resolve_from_venue(adoption, failed, (), NOW)  # a FAILED trade is no fill
    assert isinstance(cancel, OrderCancel)
    booked = replace(adoption, fill_ids=frozenset({"t1:0xv"}))
    resting = snapshot(trade("0xv", W.token_up, "1"), open_ids=("0xv",))
    assert resolve_from_venue(booked, resting, (), NOW) == []  # still working at the venue


# ------------------------------------------------------------- the cash side (issue 13)


def _engine_with_a_matched_fill_and_a_receivable():
    """A LIVE engine holding a fill still MATCHED (entry on W2) and a receivable (W resolved)."""
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    w2 = window("ETH")
    for event in [listed(W), listed(w2), *two_sided(OPEN + 1000, W, 0.5, 0.52)]:
        engine.process(event)
    for event in two_sided(OPEN + 1000, w2, 0.5, 0.52):
        engine.process(event)
    engine.process(BalanceReport(OPEN + 1500, Decimal("50")))
    fills = []
    for w, status in ((W, "CONFIRMED"), (w2, "MATCHED")):
        (command,) = engine.process(signal(OPEN + 2000, w, usd="2", signal_id=f"s{w.slug}"))
        cid = command.order.client_order_id
        fill = OrderFill(OPEN + 2200, cid, f"t-{w.slug}:v-{cid}", Decimal("0.52"),
                         Decimal("3.846"), Decimal(0), status)  # fmt: skip
        engine.process(OrderAck(OPEN + 2100, cid, f"v-{cid}"))
        engine.process(fill)
        fills.append(fill)
    engine.process(Resolved(W.close_ts + 5000, W.slug, Outcome.UP))
    return engine, w2, fills


def test_the_adoption_carries_matched_fills_and_receivables_and_the_venue_answers_them() -> None:
    engine, w2, (confirmed, matched) = _engine_with_a_matched_fill_and_a_receivable()
    adoption = engine.export_adoption()
    assert [f.fill_id for f in adoption.unsettled] == [matched.fill_id]
    assert [(r.window_slug, r.status) for r in adoption.redemptions] == [(W.slug, "PENDING")]
    new = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    new.adopt(adoption)
    assert new.orders.unsettled_on(w2.slug) and new.ledger.receivables.total == Decimal("3.846")
    # the follower takes on the adopted fill: its trade id and venue order id
    (following,) = settling_executions(new)
    assert following.client_order_id == matched.client_order_id
    assert following.unsettled_trade_ids == (f"t-{w2.slug}",)
    # the venue says the trade is CONFIRMED now, and the window's tokens are gone (redeemed)
    vid = following.venue_order_id
    done = VenueTrade(f"t-{w2.slug}", vid, w2.token_up, "BUY", Decimal("0.52"),
                      Decimal("3.846"), Decimal(0), "CONFIRMED", OPEN + 2200)  # fmt: skip
    venue = VenueSnapshot(NOW, Decimal(50), {w2.token_up: Decimal("3.846")}, (), (done,))
    (settled,) = settled_from_venue(adoption, venue, NOW)
    assert isinstance(settled, FillSettled) and settled.status == "CONFIRMED"
    (redeemed,) = redeemed_unseen(new, venue, NOW)
    assert isinstance(redeemed, Redeemed) and redeemed.window_slug == W.slug
    # still listed as redeemable: the redemption desk's to redeem
    listed_ = replace(venue, redeemable={W.token_up: Decimal("3.846")})
    assert redeemed_unseen(new, listed_, NOW) == []


def test_the_starting_cash_after_an_adoption_waits_for_the_adopted_receivables() -> None:
    engine, _, _ = _engine_with_a_matched_fill_and_a_receivable()
    new = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    adoption = replace(engine.export_adoption(), cash=None, initial_cash=None)
    new.adopt(adoption)
    # the earlier run's redemption may land any time: a balance cannot set the starting cash yet
    later = W.close_ts + 10_000  # after the resolution
    new.process(BalanceReport(later, Decimal("46.00")))
    assert new.ledger.cash is None
    new.process(Redeemed(later + 1000, W.slug, None, "0x1", "rpc", 1))
    new.process(BalanceReport(later + 2000, Decimal("49.846")))  # the payout is in
    assert new.ledger.cash == Decimal("49.846")
    assert settlement_pnl_matches_balance(new._evidence())[0]
