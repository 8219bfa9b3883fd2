"""Executors: where the one code path forks by mode (DESIGN §5, spec FM9–11).

PAPER (and BACKTEST) walks the current L2 book; DRY_RUN fills at the touch after building the same
payload LIVE would post; LIVE is a `Venue` adapter driven by the runner (live/venues/). Simulated
executors answer with the same venue-result events LIVE produces (ack, fills, cancel or reject),
which the engine applies through the same code. They also keep the simulated venue's own ledger
(cash, holdings), so the balance and position assertions compare two independent books.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from live.kernel.book import Book
from live.kernel.domain import (
    DUST_SHARES,
    ZERO,
    Mode,
    Order,
    OrderSide,
    OrderType,
    Outcome,
    Window,
    shares_down,
    taker_fee,
)
from live.kernel.events import OrderAck, OrderCancel, OrderFill, OrderReject
from live.kernel.limits import MIN_MARKETABLE_USD

IMPACT_RATIO = Decimal("0.5")  # flag orders above 50 % of visible liquidity (FM10)

VenueResult = OrderAck | OrderFill | OrderCancel | OrderReject


def build_payload(order: Order, window: Window) -> dict[str, Any]:
    """The order as it is posted: a marketable limit order whose price is the worst acceptable
    price; a BUY's amount is dollars, a SELL's is shares (POLYMARKET.md)."""
    amount = order.requested_usd if order.side is OrderSide.BUY else order.requested_shares
    return {
        "client_order_id": order.client_order_id,
        "condition_id": window.condition_id,
        "token_id": order.token_id,
        "side": str(order.side),
        "order_type": str(order.order_type),
        "amount": str(amount),
        "price": str(order.worst_price),
        "tick_size": str(window.tick_size),
        "neg_risk": False,
    }


class SimExecutor(Protocol):
    """An in-process venue: answers an order at once with venue-result events at the same ts."""

    cash: Decimal

    def execute(self, order: Order, book: Book | None, window: Window, ts: int) -> list[Any]: ...

    def on_resolved(self, window: Window, winner: Outcome) -> None: ...

    def holdings_snapshot(self) -> Mapping[str, Decimal]: ...


@dataclass(frozen=True, slots=True)
class Match:
    """One execution a fill model grants an order: `shares` at `price` (a probability in (0, 1))."""

    price: Decimal
    shares: Decimal


class SimVenue:
    """The simulated venue's ledger and the shared ack / fill / cancel sequence.

    The public extension point for fill models (PAPER, DRY_RUN, research's backtest models):
    subclass it and implement `matches(order, book) -> list[Match]`, the executions the order
    gets against `book` within its worst price. Everything else is shared, so every model answers
    like the venue: the $1 marketable minimum (buys and sells), FAK remainder cancelled, FOK all or
    nothing, the taker fee per match, the impact flag, and the ledger (`cash`, holdings) that the
    balance and position assertions compare with ours.
    """

    def __init__(self, cash: Decimal) -> None:
        self.cash = cash
        self.holdings: dict[str, Decimal] = {}

    def holdings_snapshot(self) -> Mapping[str, Decimal]:
        return {t: s for t, s in self.holdings.items() if s >= DUST_SHARES}

    def on_resolved(self, window: Window, winner: Outcome) -> None:
        """Pay $1 per winning share; both tokens of the window are gone afterwards."""
        self.cash += self.holdings.pop(window.token_for(winner), ZERO)
        self.holdings.pop(window.token_for(_other(winner)), None)

    def matches(self, order: Order, book: Book) -> list[Match]:  # pragma: no cover
        """The executions `order` gets against `book`, best price first, none beyond the order's
        worst price or size; [] when nothing matches (the order is then rejected like a FAK
        the venue could not match). Implemented by each fill model."""
        raise NotImplementedError

    def execute(self, order: Order, book: Book | None, window: Window, ts: int) -> list[Any]:
        """The venue's answers to `order` at `ts`: a reject, or an ack, its fills and (FAK short)
        a cancel of the remainder; the ledger is updated for each fill."""
        cid = order.client_order_id
        if order.side is OrderSide.BUY and (order.requested_usd or ZERO) < MIN_MARKETABLE_USD:
            return [OrderReject(ts, cid, f"marketable BUY below ${MIN_MARKETABLE_USD}")]
        notional = (order.requested_shares or ZERO) * order.worst_price
        if order.side is OrderSide.SELL and notional < MIN_MARKETABLE_USD:
            # The venue's rule applies to sells too (shares × worst price); parity with LIVE.
            return [OrderReject(ts, cid, f"marketable SELL below ${MIN_MARKETABLE_USD}")]
        matches = self.matches(order, book) if book is not None else []
        wanted = _wanted_shares(order, book)
        got = sum((m.shares for m in matches), ZERO)
        short = _is_short(order, matches, got)
        if not matches or (order.order_type is OrderType.FOK and short):
            reason = (
                "order couldn't be fully filled. FOK orders are fully filled or killed."
                if order.order_type is OrderType.FOK
                else "no orders found to match with FAK order"
            )
            return [OrderReject(ts, cid, reason)]
        visible = _visible(order, book) if book is not None else 0.0
        ratio = wanted / Decimal(repr(visible)) if visible > 0 else None
        events: list[Any] = [OrderAck(ts, cid, f"sim-{cid}")]
        for i, m in enumerate(matches):
            fee = taker_fee(m.shares, window.fee_rate, m.price)
            self._book_fill(order, m, fee)
            events.append(
                OrderFill(
                    ts=ts,
                    client_order_id=cid,
                    fill_id=f"{cid}-f{i}",
                    price=m.price,
                    shares=m.shares,
                    fee=fee,
                    intended_price=_touch(order, book),
                    book_ratio=None if ratio is None else ratio.quantize(Decimal("0.0001")),
                    impact_flag=ratio is not None and ratio > IMPACT_RATIO,
                )
            )
        if short:
            events.append(OrderCancel(ts, cid, "FAK remainder cancelled"))
        return events

    def _book_fill(self, order: Order, m: Match, fee: Decimal) -> None:
        value = m.shares * m.price
        held = self.holdings.get(order.token_id, ZERO)
        if order.side is OrderSide.BUY:
            self.cash -= value + fee
            self.holdings[order.token_id] = held + m.shares
        else:
            self.cash += value - fee
            self.holdings[order.token_id] = held - m.shares


def _other(outcome: Outcome) -> Outcome:
    return Outcome.DOWN if outcome is Outcome.UP else Outcome.UP


def _touch(order: Order, book: Book | None) -> Decimal | None:
    if book is None:
        return None
    best = book.best_ask if order.side is OrderSide.BUY else book.best_bid
    return None if best is None else Decimal(repr(best))


def _visible(order: Order, book: Book) -> float:
    return book.visible("ask" if order.side is OrderSide.BUY else "bid")


def _wanted_shares(order: Order, book: Book | None) -> Decimal:
    if order.side is OrderSide.SELL:
        return order.requested_shares or ZERO
    touch = _touch(order, book) or order.worst_price
    return (order.requested_usd or ZERO) / touch


def _is_short(order: Order, matches: list[Match], got: Decimal) -> bool:
    """Whether more than dust of the order is left unfilled."""
    if order.side is OrderSide.SELL:
        return (order.requested_shares or ZERO) - got >= DUST_SHARES
    spent = sum((m.shares * m.price for m in matches), ZERO)
    left_usd = (order.requested_usd or ZERO) - spent
    return left_usd / order.worst_price >= DUST_SHARES


class PaperExecutor(SimVenue):
    """Walks the L2 book (VWAP across levels) up to the worst price. Liquidity it takes stays
    taken until the token's next book update (tracked by the book's version)."""

    def __init__(self, cash: Decimal) -> None:
        super().__init__(cash)
        self._consumed: dict[str, tuple[int, dict[float, float]]] = {}

    def matches(self, order: Order, book: Book) -> list[Match]:
        version, taken = self._consumed.get(order.token_id, (-1, {}))
        if version != book.version:
            taken = {}
            self._consumed[order.token_id] = (book.version, taken)
        buy = order.side is OrderSide.BUY
        worst = float(order.worst_price)
        budget_usd = order.requested_usd or ZERO
        budget_shares = order.requested_shares or ZERO
        matches: list[Match] = []
        for price_f, size_f in book.levels("ask" if buy else "bid"):
            if (buy and price_f > worst) or (not buy and price_f < worst):
                break
            available = size_f - taken.get(price_f, 0.0)
            if available <= 0:
                continue
            price = Decimal(repr(price_f))
            cap = budget_usd / price if buy else budget_shares
            shares = shares_down(min(Decimal(repr(available)), cap))
            if shares <= 0:
                break
            matches.append(Match(price, shares))
            taken[price_f] = taken.get(price_f, 0.0) + float(shares)
            if buy:
                budget_usd -= shares * price
            else:
                budget_shares -= shares
        return matches


class DryRunExecutor(SimVenue):
    """Simulates the whole order at the touch (best ask / best bid) if within the worst price;
    the exact payload and a book snapshot are stored on the order by the engine."""

    def matches(self, order: Order, book: Book) -> list[Match]:
        touch = _touch(order, book)
        if touch is None:
            return []
        if order.side is OrderSide.BUY:
            if touch > order.worst_price:
                return []
            return [Match(touch, shares_down((order.requested_usd or ZERO) / touch))]
        if touch < order.worst_price:
            return []
        return [Match(touch, order.requested_shares or ZERO)]


def simulated_venue(mode: Mode, cash: Decimal | None) -> SimExecutor | None:
    """The in-process venue of a simulated mode with `cash` USD (None counts as 0): PAPER and
    BACKTEST walk the book, DRY_RUN fills at the touch; LIVE has none (the runner's venue)."""
    if mode is Mode.LIVE:
        return None
    start = cash if cash is not None else ZERO
    return DryRunExecutor(start) if mode is Mode.DRY_RUN else PaperExecutor(start)
