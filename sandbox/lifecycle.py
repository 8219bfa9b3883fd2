"""A trade's way from the match to the chain. MATCHED at once; MINED and CONFIRMED after seeded
latencies (`trade_mined_seconds`, `trade_confirmed_seconds`); the `hold_confirmations` fault keeps
it MATCHED for 30-60 s (or a given time) before it settles; the `fail_trades` fault moves it
MATCHED -> RETRYING -> FAILED and undoes the fill in the ledger (cash, shares, cost, fees), with
an ORDER_FILL_FAILED notification. Every step is published on the user channel."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sandbox.faults import FaultKind
from sandbox.ledger import ZERO
from sandbox.realism import draw
from sandbox.records import TERMINAL, UNSETTLED, Trade, TradeStatus
from sandbox.wire import trade_event

if TYPE_CHECKING:
    from sandbox.exchange import Exchange


@dataclass(frozen=True, slots=True)
class Schedule:
    """When one fill matched, is mined and is confirmed (clock seconds), and whether it fails
    instead."""

    matched_at: float
    mined_at: float
    confirmed_at: float
    fails: bool


def schedule(ex: Exchange, asset: str, now: float) -> Schedule:
    """The next fill's schedule: a pure function of (seed, fill ordinal) and the active
    faults. Both records of a user-vs-user fill share it (one on-chain transaction)."""
    cfg = ex.config
    ordinal = ex.fill_seq
    ex.fill_seq += 1
    mined = now + draw(cfg.seed, "trade_mined", ordinal, cfg.trade_mined_seconds)
    confirmed = now + draw(cfg.seed, "trade_confirmed", ordinal, cfg.trade_confirmed_seconds)
    confirmed = max(mined, confirmed)
    hold = ex.faults.fire(FaultKind.HOLD_CONFIRMATIONS, asset)
    if hold is not None:
        span = (hold.seconds, hold.seconds) if hold.seconds is not None else cfg.hold_seconds
        gap = confirmed - mined
        confirmed = max(confirmed, now + draw(cfg.seed, "trade_hold", ordinal, span))
        mined = max(mined, confirmed - gap)  # held MATCHED: no settlement transaction yet
        ex.counters["trades_held"] += 1
    fails = ex.faults.fire(FaultKind.FAIL_TRADES, asset) is not None
    return Schedule(matched_at=now, mined_at=mined, confirmed_at=confirmed, fails=fails)


def progress(ex: Exchange, now: float) -> None:
    """Advance every unsettled trade whose time has come; drop the terminal ones."""
    still = []
    for trade in ex.pending:
        _step(ex, trade, now)
        if trade.status not in TERMINAL:
            still.append(trade)
    ex.pending = still


def _step(ex: Exchange, trade: Trade, now: float) -> None:
    if trade.status is TradeStatus.MATCHED and now >= trade.mined_at:
        if trade.fails:
            _move(ex, trade, TradeStatus.RETRYING)
        else:
            trade.tx_hash = "0x" + (trade.id.replace("-", "") * 2)[:64]
            _move(ex, trade, TradeStatus.MINED)
    if trade.status in (TradeStatus.MINED, TradeStatus.RETRYING) and now >= trade.confirmed_at:
        if trade.status is TradeStatus.RETRYING:
            _fail(ex, trade)
        else:
            _move(ex, trade, TradeStatus.CONFIRMED)


def _move(ex: Exchange, trade: Trade, status: TradeStatus) -> None:
    trade.status = status
    trade.last_update = int(ex.venue_now())
    if not trade.silent:
        ex.publish("user", trade.owner, None, trade_event(trade, ex.now_ms()))


def _fail(ex: Exchange, trade: Trade) -> None:
    """The settlement reverted for good: undo what the fill booked, then say FAILED."""
    if trade.booking is not None:
        ex.ledger.apply(trade.booking, -1)
    ex.counters["trades_failed"] += 1
    _move(ex, trade, TradeStatus.FAILED)
    order = ex.orders.get(trade.taker_order_id)
    if order is not None:
        ex.notifications.order_fill_failed(trade, order, ex.venue_now())


def unsettled_shares(ex: Exchange, address: str, token: str, failing_only: bool = False) -> Decimal:
    """Shares of `token` bought in trades not yet on chain (not sellable yet); with
    `failing_only`, only in trades the fail_trades fault will undo."""
    low = address.lower()
    return sum(
        (
            t.size
            for t in ex.pending
            if t.status in UNSETTLED
            and (t.fails or not failing_only)
            and t.side == "BUY"
            and t.token == token
            and t.address.lower() == low
        ),
        ZERO,
    )


def unsettled_proceeds(ex: Exchange, address: str, failing_only: bool = False) -> Decimal:
    """USDC from sells not yet on chain (not spendable yet); with `failing_only`, only from
    trades the fail_trades fault will undo."""
    low = address.lower()
    return sum(
        (
            t.booking.usdc
            for t in ex.pending
            if t.status in UNSETTLED
            and (t.fails or not failing_only)
            and t.side == "SELL"
            and t.booking is not None
            and t.address.lower() == low
        ),
        ZERO,
    )
