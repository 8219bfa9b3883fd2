"""The journal's event types: one schema for the recorder, replay input and hand-written scenarios.

Market kinds: window, book, book_delta, trade, oracle, resolved, control, signal. Venue-result kinds
(what the live runner feeds back after a command, and what the simulated executors produce
in-process): order_sent, order_ack, order_reject, order_fill, order_cancel, order_unknown,
fill_settled, balance, venue_positions, redeemed, timer. Reading and validating them is
live/journal/ (field.py, codec.py, reader.py); writing them is codec.py.

The hot market-data events (book, book_delta, trade, oracle) are NamedTuples: immutable like the
frozen dataclasses used for everything else, but about half the construction cost, which matters
at hundreds of thousands of events per second. Book prices and sizes are floats (market data);
oracle prices and all money are Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from live.kernel.domain import Asset, Outcome, Window

Level = tuple[float, float]


# ------------------------------------------------------------------ market events


class BookSnapshot(NamedTuple):
    """A full L2 snapshot of one token's book (kind `book`)."""

    ts: int
    token_id: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class BookDelta(NamedTuple):
    """One level change (kind `book_delta`); side is 'bid' or 'ask', size 0 removes the level."""

    ts: int
    token_id: str
    side: str
    price: float
    size: float


class Trade(NamedTuple):
    """A public trade print (kind `trade`); side is the taker's BUY or SELL."""

    ts: int
    token_id: str
    price: float
    size: float
    side: str


class OracleTick(NamedTuple):
    """An oracle price for an asset (kind `oracle`)."""

    ts: int
    asset: Asset
    price: Decimal
    source: str = ""


@dataclass(frozen=True, slots=True)
class WindowListed:
    """A window (market) and its parameters (kind `window`); a later line for the same slug
    replaces the earlier one (e.g. strike published, token ids rotated)."""

    ts: int
    window: Window


@dataclass(frozen=True, slots=True)
class Resolved:
    """The venue's resolution of a window (kind `resolved`)."""

    ts: int
    slug: str
    winner: Outcome


@dataclass(frozen=True, slots=True)
class ControlChange:
    """A runtime-control change (kind `control`), validated by live.kernel.controls."""

    ts: int
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class SignalLine:
    """A scripted entry (kind `signal`), consumed only by the `scripted` strategy."""

    ts: int
    slug: str
    side: Outcome
    usd: Decimal
    max_price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop: Decimal | None = None
    signal_id: str | None = None
    strategy: str = "scripted"


# ------------------------------------------------------------------ venue results


@dataclass(frozen=True, slots=True)
class OrderSent:
    """The runner sent the order to the venue at `ts` (LIVE: its gateway, after the decision;
    the order's `sent_ts`, "order placed at" in the audit). Not an answer: the state stays."""

    ts: int
    client_order_id: str


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The venue took the order. `matching_pending_ms` > 0: accepted, matching pending (a post
    answered `delayed`, docs/venue.md O1): the order's confirmation deadline moves to
    ts + matching_pending_ms, the venue's final answer follows."""

    ts: int
    client_order_id: str
    venue_order_id: str
    matching_pending_ms: int = 0


@dataclass(frozen=True, slots=True)
class OrderReject:
    ts: int
    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderFill:
    """An execution against one of our orders; `status` is the venue's trade status."""

    ts: int
    client_order_id: str
    fill_id: str
    price: Decimal
    shares: Decimal
    fee: Decimal
    status: str = "CONFIRMED"
    intended_price: Decimal | None = None
    book_ratio: Decimal | None = None
    impact_flag: bool = False


@dataclass(frozen=True, slots=True)
class OrderCancel:
    """The venue cancelled the (rest of the) order, e.g. a FAK remainder."""

    ts: int
    client_order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderUnknown:
    """The runner could not learn the order's fate (e.g. the POST timed out)."""

    ts: int
    client_order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FillSettled:
    """A fill answered at its match (MATCHED / MINED: filled, settlement pending) reached its
    on-chain outcome: CONFIRMED (final), or FAILED (the venue undid it: reversed, `reason`)."""

    ts: int
    client_order_id: str
    fill_id: str
    status: str  # CONFIRMED | FAILED
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BalanceReport:
    """The venue's collateral balance in USD, as last queried."""

    ts: int
    usd: Decimal


@dataclass(frozen=True, slots=True)
class VenuePositions:
    """The venue's positions (Data API): (token_id, shares) pairs of the open (unresolved) ones,
    and apart from them the `redeemable` ones (resolved, waiting to be redeemed)."""

    ts: int
    positions: tuple[tuple[str, Decimal], ...]
    redeemable: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A resolved window's positions of ours were paid out by a confirmed redemption (ours
    through the SDK, or the venue's auto-redeem operator), or had nothing to pay. `paid` is
    what the venue says it paid (None when it does not say); `via` is rpc | relayer |
    operator | none; `attempts` the redemption transactions it took."""

    ts: int
    window_slug: str
    paid: Decimal | None = None
    tx_hash: str = ""
    via: str = ""
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Timer:
    """Advances time without data (the runner sends one per second when idle)."""

    ts: int


Event = (
    BookSnapshot
    | BookDelta
    | Trade
    | OracleTick
    | WindowListed
    | Resolved
    | ControlChange
    | SignalLine
    | OrderSent
    | OrderAck
    | OrderReject
    | OrderFill
    | OrderCancel
    | OrderUnknown
    | FillSettled
    | BalanceReport
    | VenuePositions
    | Redeemed
    | Timer
)


_KIND_OF: dict[type, str] = {
    BookSnapshot: "book",
    BookDelta: "book_delta",
    Trade: "trade",
    OracleTick: "oracle",
    WindowListed: "window",
    Resolved: "resolved",
    ControlChange: "control",
    SignalLine: "signal",
    OrderSent: "order_sent",
    OrderAck: "order_ack",
    OrderReject: "order_reject",
    OrderFill: "order_fill",
    OrderCancel: "order_cancel",
    OrderUnknown: "order_unknown",
    FillSettled: "fill_settled",
    BalanceReport: "balance",
    VenuePositions: "venue_positions",
    Redeemed: "redeemed",
    Timer: "timer",
}


def kind_of(event: Event) -> str:
    return _KIND_OF[type(event)]
