"""Issue 13 in the kernel (no venue): settling to cash the way Polymarket does.

- A LIVE resolution CLOSES the position (P&L realised) and books a receivable; the cash arrives
  with the confirmed redemption (`Redeemed`); cash + receivables + cost tied up = the ledger.
- Assertion 5 counts receivables; a redemption the venue paid before we saw it confirmed is
  explained only by whole windows; a receivable past its bound fails; a real discrepancy fails.
- Assertion 4 compares open positions with the venue's non-redeemable rows and redeemable rows
  with our receivables; reports taken within the Data API's lag are not compared.
- A fill answered at its match (MATCHED) is filled, settlement pending: its exit is held,
  re-entry on the window is denied SETTLEMENT_PENDING, and past 60 s assertion 2 fails; a FAILED
  trade reverses the fill (order, cash, position, P&L) with its reason."""

from __future__ import annotations

from decimal import Decimal

from engine_kit import CLOSE, OPEN, listed, make_engine, of_type, run, signal, two_sided, window

from live.kernel.assertions import (
    order_confirmed_within_10s,
    position_count_matches_venue,
    settlement_pnl_matches_balance,
)
from live.kernel.domain import DenyCode, Mode, OrderSide, OrderState, Outcome, PositionState
from live.kernel.events import (
    BalanceReport,
    FillSettled,
    OrderAck,
    OrderFill,
    Redeemed,
    Resolved,
    VenuePositions,
)
from live.kernel.records import BalanceRecord, DecisionRecord, RedemptionRecord

W = window()
START = Decimal("50")


def live_engine():
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)])
    engine.process(BalanceReport(OPEN + 1000, START))
    return engine


def buy(engine, status: str = "CONFIRMED", usd: str = "1", ident: str = "a", **risk):
    """An entry of $`usd` (2 shares a dollar at 0.5, fee 1 %) answered with `status`."""
    ts = OPEN + 2000
    (command,) = engine.process(signal(ts, W, usd=usd, signal_id=ident, **risk))
    cid = command.order.client_order_id
    shares, fee = 2 * Decimal(usd), Decimal("0.01") * Decimal(usd)
    fill = OrderFill(ts + 200, cid, f"t-{ident}:v-{ident}", Decimal("0.5"), shares, fee, status)
    run(engine, [OrderAck(ts + 100, cid, f"v-{ident}"), fill])
    return cid, fill


def evidence(engine):
    return engine._evidence()


def test_resolution_closes_the_position_and_owes_it_until_the_redemption_pays() -> None:
    engine = live_engine()
    buy(engine)
    assert engine.ledger.cash == START - Decimal("1.01")
    engine.process(Resolved(CLOSE + 5000, W.slug, Outcome.UP))
    (pos,) = list(engine.positions)
    assert pos.state is PositionState.CLOSED and pos.pnl_net == Decimal("0.99")
    ledger = engine.ledger
    assert ledger.cash == START - Decimal("1.01")  # resolution pays nothing
    assert ledger.receivables.total == Decimal("2")
    (row,) = of_type(engine.records, RedemptionRecord)
    assert (row.status, row.won, row.expected_usd, row.condition_id) == (
        "PENDING",
        True,
        Decimal("2"),
        W.condition_id,
    )
    owed = [r for r in of_type(engine.records, BalanceRecord) if r.source == "receivable"]
    assert owed[-1].usd == Decimal("2")
    # cash + receivables + tied-up cost = start + realised P&L
    assert ledger.cash + ledger.receivables.total == START + pos.pnl_net
    engine.process(Redeemed(CLOSE + 9000, W.slug, None, "0xabc", "rpc", 1))
    assert ledger.cash == START + Decimal("0.99") and ledger.receivables.total == 0
    done = of_type(engine.records, RedemptionRecord)[-1]
    assert (done.status, done.via, done.tx_hash, done.redeemed_ts) == (
        "REDEEMED",
        "rpc",
        "0xabc",
        CLOSE + 9000,
    )
    engine.process(Redeemed(CLOSE + 9500, W.slug, None, "0xabc", "rpc", 1))  # again: nothing
    assert ledger.cash == START + Decimal("0.99")


def test_a_loser_is_owed_nothing_but_still_awaits_its_redemption() -> None:
    engine = live_engine()
    buy(engine)
    engine.process(Resolved(CLOSE + 5000, W.slug, Outcome.DOWN))
    row = engine.ledger.receivables.pending[next(iter(engine.ledger.receivables.pending))]
    assert not row.won and row.expected_usd == 0 and row.shares == Decimal("2")
    assert engine.ledger.receivables.tokens() == {W.token_up: Decimal("2")}


def test_assertion_5_pending_landed_overdue_and_a_real_discrepancy() -> None:
    engine = live_engine()
    buy(engine)
    engine.process(Resolved(CLOSE + 5000, W.slug, Outcome.UP))
    expected_cash = START - Decimal("1.01")
    engine.process(BalanceReport(CLOSE + 6000, expected_cash))
    ok, detail = settlement_pnl_matches_balance(evidence(engine))
    assert ok and detail["receivable"] == "2" and detail["awaiting_redemption"] == 1
    # The venue paid (the redemption landed) before we saw it confirmed: a whole window explains it.
    engine.process(BalanceReport(CLOSE + 7000, expected_cash + 2))
    ok, detail = settlement_pnl_matches_balance(evidence(engine))
    assert ok and detail["redeemed_unconfirmed"] == [W.slug]
    # Money nothing explains: fails.
    engine.process(BalanceReport(CLOSE + 7500, expected_cash + Decimal("0.123457")))
    ok, _ = settlement_pnl_matches_balance(evidence(engine))
    assert not ok
    engine.process(BalanceReport(CLOSE + 7600, expected_cash - Decimal("0.000001")))
    assert not settlement_pnl_matches_balance(evidence(engine))[0]
    # Still pending past the bound: fails even when the balance agrees.
    engine.process(BalanceReport(CLOSE + 5000 + engine.ledger.redeem_bound_ms + 1, expected_cash))
    ok, detail = settlement_pnl_matches_balance(evidence(engine))
    assert not ok and detail["overdue"] == [W.slug]


def test_assertion_4_open_against_non_redeemable_and_redeemable_against_receivables() -> None:
    engine = live_engine()
    engine.ledger.data_lag_ms = 10_000
    buy(engine)
    changed = engine.ledger.book_changed_ts
    # Within the Data API's lag the venue may not list the position yet: not compared.
    engine.process(VenuePositions(changed + 5_000, ()))
    assert position_count_matches_venue(evidence(engine)) == (True, {"checked": False})
    engine.process(VenuePositions(changed + 10_000, ()))  # past the lag and still flat: mismatch
    assert not position_count_matches_venue(evidence(engine))[0]
    engine.process(VenuePositions(changed + 10_000, ((W.token_up, Decimal("2")),)))
    assert position_count_matches_venue(evidence(engine))[0]
    engine.process(Resolved(CLOSE + 5000, W.slug, Outcome.UP))
    resolved_at = CLOSE + 5000
    listed_redeemable = ((), ((W.token_up, Decimal("2")),))
    engine.process(VenuePositions(resolved_at + 10_000, *listed_redeemable))
    ok, detail = position_count_matches_venue(evidence(engine))
    assert ok and detail["awaiting_redemption"] == 1 and detail["venue_redeemable"] == 1
    # A redeemable row that is no position of ours: mismatch.
    stray = ((), ((W.token_up, Decimal("2")), (W.token_down, Decimal("3"))))
    engine.process(VenuePositions(resolved_at + 10_000, *stray))
    ok, detail = position_count_matches_venue(evidence(engine))
    assert not ok and W.token_down in detail["redeemable_diff"]
    # Redeemed; the lagging index still lists it for a while: not a mismatch.
    engine.process(Redeemed(resolved_at + 20_000, W.slug, None, "0x1", "rpc", 1))
    engine.process(VenuePositions(resolved_at + 30_000, *listed_redeemable))
    assert position_count_matches_venue(evidence(engine))[0]


def test_matched_fill_holds_its_exit_blocks_reentry_until_confirmed() -> None:
    engine = live_engine()
    cid, fill = buy(engine, status="MATCHED", usd="3", stop_loss="0.05")
    order = engine.orders.get(cid)
    assert order.state is OrderState.FILLED  # the match answers the order (assertion 2: final)
    (pos,) = list(engine.positions)
    assert pos.shares == Decimal("6") and engine.ledger.cash == START - Decimal("3.03")
    # The bid falls through the stop: triggered, but no SELL of unsettled shares is sent.
    commands = run(engine, two_sided(OPEN + 4000, W, 0.30, 0.32))
    assert not [c for c in commands if getattr(c, "order", None) is not None]
    assert engine.positions.get(pos.position_id).state is PositionState.STOP_TRIGGERED
    # Re-entry on the window waits for the settlement.
    engine.process(signal(OPEN + 5000, W, side="DOWN", usd="1", signal_id="b"))
    assert of_type(engine.records, DecisionRecord)[-1].code == DenyCode.SETTLEMENT_PENDING
    assert order_confirmed_within_10s(evidence(engine))[0]
    # CONFIRMED: the held stop-loss goes at once.
    commands = engine.process(FillSettled(OPEN + 37_000, cid, fill.fill_id, "CONFIRMED"))
    (sell,) = [c for c in commands if getattr(c, "order", None) is not None]
    assert sell.order.side is OrderSide.SELL and sell.order.requested_shares == Decimal("6")
    assert not engine.orders.unsettled_on(W.slug)
    assert not engine.breaker.tripped


def test_fill_unsettled_past_the_bound_fails_assertion_2() -> None:
    engine = live_engine()
    buy(engine, status="MINED")
    engine.process(BalanceReport(OPEN + 2200 + 60_000, START - Decimal("1.01")))
    assert order_confirmed_within_10s(evidence(engine))[0]
    engine.process(BalanceReport(OPEN + 2200 + 60_001, START - Decimal("1.01")))
    ok, detail = order_confirmed_within_10s(evidence(engine))
    assert not ok and detail["unsettled_past_bound"]


def test_failed_trade_reverses_the_fill_atomically_with_its_reason() -> None:
    engine = live_engine()
    cid, fill = buy(engine, status="MATCHED")
    commands = engine.process(FillSettled(OPEN + 9000, cid, fill.fill_id, "FAILED", "reverted"))
    assert engine.ledger.cash == START  # cost and fee back
    (pos,) = list(engine.positions)
    assert pos.state is PositionState.CLOSED and pos.shares == 0 and pos.cost == 0
    assert pos.pnl_net == 0 and pos.fees == 0
    order = engine.orders.get(cid)
    assert order.filled_shares == 0 and "reverted" in order.reason
    fills = [r for r in engine.records if getattr(r, "fill_id", None) == fill.fill_id]
    assert fills[-1].status == "FAILED"
    assert [c.kind for c in commands if hasattr(c, "kind")] == ["fill_failed"]
    assert not list(engine.positions.open_positions()) and not engine.orders.unsettled
    engine.process(BalanceReport(OPEN + 9500, START))
    assert settlement_pnl_matches_balance(evidence(engine))[0]
    engine.process(signal(OPEN + 10_000, W, side="DOWN", usd="1", signal_id="c"))
    assert of_type(engine.records, DecisionRecord)[-1].code != DenyCode.SETTLEMENT_PENDING


def test_exit_closes_only_once_its_fill_is_confirmed_and_a_failed_exit_sells_again() -> None:
    engine = live_engine()
    buy(engine, usd="3", stop_loss="0.05")
    (pos,) = list(engine.positions)
    (sell,) = [c for c in run(engine, two_sided(OPEN + 4000, W, 0.30, 0.32)) if hasattr(c, "order")]
    scid = sell.order.client_order_id
    exit_fill = OrderFill(OPEN + 4300, scid, "t-x:v-x", Decimal("0.3"), Decimal("6"),
                          Decimal("0.02"), "MATCHED")  # fmt: skip
    run(engine, [OrderAck(OPEN + 4200, scid, "v-x"), exit_fill])
    assert engine.orders.get(scid).state is OrderState.FILLED
    assert engine.positions.get(pos.position_id).state is PositionState.EXIT_PENDING  # settling
    # FAILED: the shares are back and the exit is sent again.
    commands = engine.process(FillSettled(OPEN + 9000, scid, exit_fill.fill_id, "FAILED", "x"))
    again = [c for c in commands if getattr(c, "order", None) is not None]
    assert engine.positions.get(pos.position_id).shares == Decimal("6")
    assert len(again) == 1 and again[0].order.side is OrderSide.SELL
    rcid = again[0].order.client_order_id
    refill = OrderFill(OPEN + 9300, rcid, "t-y:v-y", Decimal("0.3"), Decimal("6"),
                       Decimal("0.02"), "MATCHED")  # fmt: skip
    run(engine, [OrderAck(OPEN + 9200, rcid, "v-y"), refill])
    assert engine.positions.get(pos.position_id).state is PositionState.EXIT_PENDING
    engine.process(FillSettled(OPEN + 12_000, rcid, refill.fill_id, "CONFIRMED"))
    closed = engine.positions.get(pos.position_id)
    assert closed.state is PositionState.CLOSED
    assert closed.pnl_net == Decimal("6") * Decimal("0.3") - Decimal("3") - Decimal("0.05")
    assert engine.ledger.cash == START - Decimal("3.03") + Decimal("1.8") - Decimal("0.02")
