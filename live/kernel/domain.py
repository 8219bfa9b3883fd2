"""Domain types of the engine: enums, windows, signals, orders, fills, positions, settlements.

Everything here is a frozen value. Money is `Decimal` (USDC to 1e-6, fees to 1e-5, prices to the
window's tick); market data may be float in hot paths (see live/kernel/book.py). Times are epoch
milliseconds (`int`), always taken from events, never from the wall clock. `Order` and `Position`
carry exactly the columns of the `orders` and `positions` tables so the sink can write them as is.
This module imports nothing from the project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

USD_UNIT = Decimal("0.000001")
SHARE_UNIT = Decimal("0.000001")
FEE_UNIT = Decimal("0.00001")
DUST_SHARES = Decimal("0.01")  # residuals under this count as filled (POLYMARKET.md)
ZERO = Decimal(0)
ONE = Decimal(1)


class Asset(StrEnum):
    BTC = "BTC"
    ETH = "ETH"
    SOL = "SOL"
    XRP = "XRP"


class Outcome(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    FAK = "FAK"
    FOK = "FOK"


class OrderPurpose(StrEnum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"


class Mode(StrEnum):
    LIVE = "LIVE"
    PAPER = "PAPER"
    DRY_RUN = "DRY_RUN"
    BACKTEST = "BACKTEST"


class SettlementRule(StrEnum):
    SPOT_AT_CLOSE = "spot_at_close"
    TWAP_60S = "twap_60s"


class Resolution(StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    UNCERTAIN = "UNCERTAIN"


class Agreement(StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"
    UNCERTAIN = "uncertain"


class OrderState(StrEnum):
    NEW = "NEW"
    SUBMITTED = "SUBMITTED"
    ACKED = "ACKED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"


TERMINAL_ORDER_STATES = frozenset({OrderState.FILLED, OrderState.REJECTED, OrderState.CANCELLED})


class PositionState(StrEnum):
    ENTRY = "ENTRY"
    MONITORING = "MONITORING"
    STOP_TRIGGERED = "STOP_TRIGGERED"
    TAKE_PROFIT_TRIGGERED = "TAKE_PROFIT_TRIGGERED"
    TRAILING_TRIGGERED = "TRAILING_TRIGGERED"
    FLATTEN_REQUESTED = "FLATTEN_REQUESTED"
    EXPIRY = "EXPIRY"
    EXIT_PENDING = "EXIT_PENDING"
    SETTLEMENT = "SETTLEMENT"
    CLOSED = "CLOSED"


class WindowStatus(StrEnum):
    """A window's life in the engine (DESIGN §4): listed before its open, open (entries allowed
    until the cutoff), closed (what is still held waits for settlement), resolved by the venue."""

    UPCOMING = "UPCOMING"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    RESOLVED = "RESOLVED"


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    FLATTENING = "FLATTENING"
    EMERGENCY = "EMERGENCY"


class DenyCode(StrEnum):
    """Risk denial reasons, in the order the envelope checks them (DESIGN §4)."""

    TRADING_STATE = "TRADING_STATE"
    MODE = "MODE"
    STRATEGY_NOT_ALLOWED = "STRATEGY_NOT_ALLOWED"
    INSTRUMENT_NOT_ALLOWED = "INSTRUMENT_NOT_ALLOWED"
    NOT_PROMOTED = "NOT_PROMOTED"
    WINDOW_NOT_OPEN = "WINDOW_NOT_OPEN"
    ORDERS_PER_WINDOW = "ORDERS_PER_WINDOW"
    POSITION_CAP = "POSITION_CAP"
    SESSION_LOSS = "SESSION_LOSS"
    INSTRUMENT_CAP = "INSTRUMENT_CAP"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    UNKNOWN_ORDER_BLOCK = "UNKNOWN_ORDER_BLOCK"
    SETTLEMENT_PENDING = "SETTLEMENT_PENDING"  # a fill on the window is MATCHED, not CONFIRMED
    TOKEN_INVALID = "TOKEN_INVALID"
    PRICE_INVALID = "PRICE_INVALID"
    EXIT_BELOW_MINIMUM = "EXIT_BELOW_MINIMUM"
    DUPLICATE_SIGNAL = "DUPLICATE_SIGNAL"
    # The promoted strategy's pre-registration (live/kernel/prereg_limits.py), checked after
    # the runtime envelope: the tighter of the two decides.
    PREREG_INSTRUMENT = "PREREG_INSTRUMENT"
    PREREG_EXITS = "PREREG_EXITS"
    PREREG_ENTRIES = "PREREG_ENTRIES"
    PREREG_POSITION_CAP = "PREREG_POSITION_CAP"
    PREREG_SESSION_LOSS = "PREREG_SESSION_LOSS"


class ExitReason(StrEnum):
    """Why a position leaves MONITORING, in the exit decision's priority order."""

    FLATTEN = "FLATTEN"
    STOP_LOSS = "STOP_LOSS"
    TRAILING_STOP = "TRAILING_STOP"
    TAKE_PROFIT = "TAKE_PROFIT"
    EXPIRY = "EXPIRY"


# ------------------------------------------------------------------ money helpers


def dec(value: str | int | float | Decimal, what: str = "value") -> Decimal:
    """A finite Decimal from a decimal string (floats go through their shortest repr)."""
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"{what}: not a decimal: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"{what}: not finite: {value!r}")
    return result


def usd(value: Decimal) -> Decimal:
    """USDC amount quantised to 1e-6 (banker's rounding, as the venue's integer units)."""
    return value.quantize(USD_UNIT, rounding=ROUND_HALF_EVEN)


def shares_down(value: Decimal) -> Decimal:
    """Share amount truncated to 1e-6: never claim more shares than were bought."""
    return value.quantize(SHARE_UNIT, rounding=ROUND_DOWN)


def taker_fee(shares: Decimal, rate: Decimal, price: Decimal) -> Decimal:
    """Polymarket taker fee: shares × rate × p × (1 − p), rounded to 5 decimals."""
    return (shares * rate * price * (ONE - price)).quantize(FEE_UNIT, rounding=ROUND_HALF_EVEN)


# ------------------------------------------------------------------ market


@dataclass(frozen=True, slots=True)
class Window:
    """One Up/Down market. Token ids are mapped by outcome label, never by position."""

    slug: str
    asset: Asset
    length_s: int
    open_ts: int
    close_ts: int
    condition_id: str
    token_up: str
    token_down: str
    tick_size: Decimal = Decimal("0.01")
    min_size: Decimal = Decimal("5")
    fee_rate: Decimal = ZERO
    settlement_rule: SettlementRule = SettlementRule.TWAP_60S
    strike: Decimal | None = None

    def __post_init__(self) -> None:
        if self.close_ts <= self.open_ts:
            raise ValueError(f"window {self.slug}: close_ts must be after open_ts")

    def token_for(self, outcome: Outcome) -> str:
        return self.token_up if outcome is Outcome.UP else self.token_down

    def outcome_of(self, token_id: str) -> Outcome | None:
        if token_id == self.token_up:
            return Outcome.UP
        if token_id == self.token_down:
            return Outcome.DOWN
        return None

    @property
    def instrument(self) -> str:
        """Asset and window length, e.g. 'BTC-5m'."""
        return f"{self.asset}-{self.length_s // 60}m"


@dataclass(frozen=True, slots=True)
class RiskParams:
    """A strategy's exits, as fractions of the entry price (0.05 = 5 %); None = not used."""

    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            value = getattr(self, name)
            if value is not None and not (ZERO < value < ONE * 10):
                raise ValueError(f"{name} must be a positive fraction, got {value}")


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's wish to enter: buy `usd` dollars of `side` on `window_slug`."""

    signal_id: str
    ts: int
    strategy: str
    window_slug: str
    asset: Asset
    side: Outcome
    usd: Decimal
    max_price: Decimal | None = None
    confidence: Decimal | None = None
    risk: RiskParams = RiskParams()
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Denial:
    """A risk verdict against a signal: the rule's code and the numbers that decided it."""

    code: DenyCode
    detail: Mapping[str, Any]

    def __str__(self) -> str:
        parts = ", ".join(f"{k}={v}" for k, v in self.detail.items())
        return f"{self.code}: {parts}" if parts else str(self.code)


# ------------------------------------------------------------------ trading (rows of tables)


@dataclass(frozen=True, slots=True)
class Order:
    """One order; the fields are the columns of table `orders`. Changed only by transitions."""

    client_order_id: str
    venue_order_id: str | None
    mode: Mode
    run_id: str | None
    strategy: str
    window_slug: str
    signal_id: str | None
    position_id: str | None
    token_id: str
    outcome: Outcome
    side: OrderSide
    purpose: OrderPurpose
    order_type: OrderType
    requested_usd: Decimal | None
    requested_shares: Decimal | None
    worst_price: Decimal
    filled_shares: Decimal
    avg_price: Decimal | None
    fee: Decimal
    state: OrderState
    reason: str | None
    payload: Mapping[str, Any] | None
    book_snapshot: Mapping[str, Any] | None
    created_ts: int
    updated_ts: int
    # When the order was sent to the venue (migration 007): at once by a simulated venue (the
    # decision's instant), in LIVE when the runner's gateway sends it (the `OrderSent` event).
    sent_ts: int | None = None

    def __post_init__(self) -> None:
        if not self.client_order_id:
            raise ValueError("an order needs a client_order_id before anything is sent")
        if not (ZERO < self.worst_price < ONE):
            raise ValueError(f"worst_price must be in (0, 1), got {self.worst_price}")

    @property
    def notional(self) -> Decimal:
        """Filled cost so far (shares × average price)."""
        return ZERO if self.avg_price is None else self.filled_shares * self.avg_price


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution; the fields are the columns of table `fills`."""

    fill_id: str
    client_order_id: str
    mode: Mode
    run_id: str | None
    ts: int
    price: Decimal
    shares: Decimal
    fee: Decimal
    status: str = "CONFIRMED"
    intended_price: Decimal | None = None
    book_ratio: Decimal | None = None
    impact_flag: bool = False


@dataclass(frozen=True, slots=True)
class Position:
    """One position; the fields are the columns of table `positions`."""

    position_id: str
    mode: Mode
    run_id: str | None
    strategy: str
    window_slug: str
    asset: Asset
    outcome: Outcome
    token_id: str
    state: PositionState
    shares: Decimal
    entry_price: Decimal | None
    cost: Decimal
    fees: Decimal
    mark_price: Decimal | None
    exit_price: Decimal | None
    proceeds: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    trailing_stop: Decimal | None
    exit_reason: str | None
    resolution: Outcome | None
    pnl_gross: Decimal | None
    pnl_net: Decimal | None
    opened_ts: int
    updated_ts: int
    closed_ts: int | None

    @property
    def risk(self) -> RiskParams:
        return RiskParams(self.stop_loss, self.take_profit, self.trailing_stop)
