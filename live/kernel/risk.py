"""The pre-trade risk envelope (DESIGN §4): one small function per rule, run in a fixed order.

Each rule returns `Denial | None`; the first denial decides. Oversized requests are denied, never
resized. The order's worst price comes from `worst_price`, the one function that turns the
signal's own side of the book into a limit (FM: the February IOC maxPrice taken from the wrong
field). Exits never pass through here: they must keep working when entries are stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from live.kernel.controls import ControlMode, Controls
from live.kernel.domain import (
    ONE,
    ZERO,
    Denial,
    DenyCode,
    Mode,
    OrderSide,
    Signal,
    TradingState,
    Window,
)
from live.kernel.limits import (
    HARD_MAX_POSITION_USD,
    MAX_ORDERS_PER_WINDOW_PER_INSTRUMENT,
    MIN_MARKETABLE_USD,
)

ENTRY_CUTOFF_MS = 5_000  # no entries in the last 5 s of a window (taker delay + settlement race)
PRICE_TOLERANCE_TICKS = 2  # worst price = best price ± 2 ticks
INSTRUMENT_CAP_USD = 2 * HARD_MAX_POSITION_USD  # open exposure per asset across windows


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Everything the rules look at, assembled by the engine at decision time."""

    now: int
    mode: Mode
    strategy_aliases: tuple[str, ...]
    trading_state: TradingState
    controls: Controls
    promoted: bool
    window: Window | None
    entry_orders_in_window: int
    position_exposure_usd: Decimal  # this strategy's position on this window, incl. pending
    session_loss_usd: Decimal  # realised net loss so far, >= 0
    deployed_usd: Decimal  # open exposure across every position and pending entry
    instrument_exposure_usd: Decimal  # open exposure on this asset
    balance_usd: Decimal | None  # venue balance minus pending entries; None = not known
    unknown_order_on_window: bool
    token_id: str | None
    token_valid: bool
    best_ask: float | None  # of the signal's own side (the token it would buy)
    signal_seen: bool
    entry_pending: bool  # this strategy already has a working entry order on this window
    feed_stale: bool = False  # the runner's watchdog says this asset's data is not fresh (FM1)
    unsettled_fill_on_window: bool = False  # a fill matched, its settlement not yet CONFIRMED


@dataclass(frozen=True, slots=True)
class Verdict:
    denial: Denial | None
    worst_price: Decimal | None

    @property
    def approved(self) -> bool:
        return self.denial is None


def worst_price(
    side: OrderSide, best: float | None, tick: Decimal, limit: Decimal | None = None
) -> Decimal | None:
    """The worst acceptable price of a marketable order from its own side of the book: a BUY's
    best ask plus the tolerance, a SELL's best bid minus it, on the tick grid, strictly inside
    (0, 1) and no worse than `limit`. None when that side is empty or no valid price exists."""
    if best is None:
        return None
    price = Decimal(repr(best))
    tolerance = tick * PRICE_TOLERANCE_TICKS
    if side is OrderSide.BUY:
        worst = ((price + tolerance) / tick).to_integral_value(ROUND_FLOOR) * tick
        worst = min(worst, ONE - tick)
        if limit is not None:
            worst = min(worst, (limit / tick).to_integral_value(ROUND_FLOOR) * tick)
        return worst if worst >= price and worst > ZERO else None
    worst = ((price - tolerance) / tick).to_integral_value(ROUND_CEILING) * tick
    worst = max(worst, tick)
    if limit is not None:
        worst = max(worst, (limit / tick).to_integral_value(ROUND_CEILING) * tick)
    return worst if worst <= price and worst < ONE else None


def position_cap(controls: Controls) -> Decimal:
    """min(hard cap, runtime control): controls tighten, never loosen."""
    return min(HARD_MAX_POSITION_USD, controls.max_position_usd)


def _deny(code: DenyCode, **detail: object) -> Denial:
    return Denial(code, {k: str(v) for k, v in detail.items()})


def check_trading_state(s: Signal, c: RiskContext) -> Denial | None:
    if c.trading_state is not TradingState.ACTIVE:
        return _deny(DenyCode.TRADING_STATE, state=c.trading_state)
    return None


_MODE_CONTROL = {
    Mode.LIVE: ControlMode.LIVE,
    Mode.PAPER: ControlMode.PAPER,
    Mode.DRY_RUN: ControlMode.DRY_RUN,
}


def check_mode(s: Signal, c: RiskContext) -> Denial | None:
    """A runner may only trade in the mode the controls ask for; backtests ignore the control."""
    if c.mode is Mode.BACKTEST or _MODE_CONTROL[c.mode] is c.controls.trading_mode:
        return None
    return _deny(DenyCode.MODE, engine_mode=c.mode, trading_mode=c.controls.trading_mode)


def check_strategy_allowed(s: Signal, c: RiskContext) -> Denial | None:
    if c.controls.strategy_allowed(s.strategy, c.strategy_aliases):
        return None
    return _deny(DenyCode.STRATEGY_NOT_ALLOWED, strategy=s.strategy)


def check_instrument_allowed(s: Signal, c: RiskContext) -> Denial | None:
    """Allowed by the controls, and its feeds fresh: no entries on stale data (FM1)."""
    if not c.controls.instrument_allowed(str(s.asset)):
        return _deny(DenyCode.INSTRUMENT_NOT_ALLOWED, asset=s.asset)
    if c.feed_stale:
        return _deny(DenyCode.INSTRUMENT_NOT_ALLOWED, asset=s.asset, reason="feed_stale")
    return None


def check_promoted(s: Signal, c: RiskContext) -> Denial | None:
    if c.mode is not Mode.LIVE or c.promoted:
        return None
    return _deny(DenyCode.NOT_PROMOTED, strategy=s.strategy)


def check_window_open(s: Signal, c: RiskContext) -> Denial | None:
    """No entries before open_ts or at/after the entry cutoff (FM: entries on future windows)."""
    w = c.window
    if w is None:
        return _deny(DenyCode.WINDOW_NOT_OPEN, window=s.window_slug, reason="unknown window")
    cutoff = w.close_ts - ENTRY_CUTOFF_MS
    if not (w.open_ts <= c.now < cutoff):
        return _deny(DenyCode.WINDOW_NOT_OPEN, now=c.now, open_ts=w.open_ts, cutoff_ts=cutoff)
    return None


def check_orders_per_window(s: Signal, c: RiskContext) -> Denial | None:
    if c.entry_orders_in_window >= MAX_ORDERS_PER_WINDOW_PER_INSTRUMENT:
        return _deny(
            DenyCode.ORDERS_PER_WINDOW,
            orders=c.entry_orders_in_window,
            max=MAX_ORDERS_PER_WINDOW_PER_INSTRUMENT,
        )
    return None


def check_position_cap(s: Signal, c: RiskContext) -> Denial | None:
    cap = position_cap(c.controls)
    requested = c.position_exposure_usd + s.usd
    if requested > cap:
        return _deny(
            DenyCode.POSITION_CAP,
            requested_usd=f"{s.usd:.2f}",
            existing_usd=f"{c.position_exposure_usd:.2f}",
            cap_usd=f"{cap:.2f}",
        )
    return None


def check_session_loss(s: Signal, c: RiskContext) -> Denial | None:
    """Realised loss plus capital deployed plus this request stays within max_session_loss."""
    at_risk = c.session_loss_usd + c.deployed_usd + s.usd
    if at_risk > c.controls.max_session_loss:
        return _deny(
            DenyCode.SESSION_LOSS,
            loss_usd=f"{c.session_loss_usd:.2f}",
            deployed_usd=f"{c.deployed_usd:.2f}",
            requested_usd=f"{s.usd:.2f}",
            max_session_loss=f"{c.controls.max_session_loss:.2f}",
        )
    return None


def check_instrument_cap(s: Signal, c: RiskContext) -> Denial | None:
    if c.instrument_exposure_usd + s.usd > INSTRUMENT_CAP_USD:
        return _deny(
            DenyCode.INSTRUMENT_CAP,
            asset=s.asset,
            exposure_usd=f"{c.instrument_exposure_usd:.2f}",
            requested_usd=f"{s.usd:.2f}",
            cap_usd=f"{INSTRUMENT_CAP_USD:.2f}",
        )
    return None


def check_balance(s: Signal, c: RiskContext) -> Denial | None:
    """The (venue) balance covers the amount and the largest possible taker fee."""
    fee_rate = c.window.fee_rate if c.window is not None else ZERO
    needed = s.usd * (ONE + fee_rate)
    if c.balance_usd is None or c.balance_usd < needed:
        return _deny(DenyCode.INSUFFICIENT_BALANCE, balance_usd=c.balance_usd, needed_usd=needed)
    return None


def check_unknown_orders(s: Signal, c: RiskContext) -> Denial | None:
    if c.unknown_order_on_window:
        return _deny(DenyCode.UNKNOWN_ORDER_BLOCK, window=s.window_slug)
    return None


def check_unsettled_fills(s: Signal, c: RiskContext) -> Denial | None:
    """Re-entry waits until every fill on the window is CONFIRMED (or FAILED and reversed)."""
    if c.unsettled_fill_on_window:
        return _deny(DenyCode.SETTLEMENT_PENDING, window=s.window_slug)
    return None


def check_token(s: Signal, c: RiskContext) -> Denial | None:
    if not c.token_id or not c.token_valid:
        return _deny(DenyCode.TOKEN_INVALID, window=s.window_slug, side=s.side, token=c.token_id)
    return None


def check_price(s: Signal, c: RiskContext) -> Denial | None:
    tick = c.window.tick_size if c.window is not None else Decimal("0.01")
    if worst_price(OrderSide.BUY, c.best_ask, tick, s.max_price) is None:
        return _deny(DenyCode.PRICE_INVALID, best_ask=c.best_ask, max_price=s.max_price)
    return None


def check_exit_reachable(s: Signal, c: RiskContext) -> Denial | None:
    """A declared stop (stop-loss or trailing) must be able to execute: at the stop, the exit
    (shares × (stop price − tolerance)) must reach the venue's $1 marketable minimum, or the
    stop could never fire (the February incident's dead stop-losses). Denied, never resized."""
    stops = [x for x in (s.risk.stop_loss, s.risk.trailing_stop) if x is not None]
    if not stops or c.best_ask is None or c.window is None:
        return None
    ask = Decimal(repr(c.best_ask))
    exit_price = ask * (1 - max(stops)) - PRICE_TOLERANCE_TICKS * c.window.tick_size
    exit_usd = s.usd / ask * exit_price
    if exit_usd >= MIN_MARKETABLE_USD:
        return None
    return _deny(
        DenyCode.EXIT_BELOW_MINIMUM,
        usd=s.usd,
        stop=max(stops),
        exit_usd_at_stop=exit_usd.quantize(Decimal("0.01")),
        minimum_usd=MIN_MARKETABLE_USD,
    )


def check_duplicate(s: Signal, c: RiskContext) -> Denial | None:
    if c.signal_seen or c.entry_pending:
        return _deny(
            DenyCode.DUPLICATE_SIGNAL, signal_id=s.signal_id, entry_pending=c.entry_pending
        )
    return None


Rule = Callable[[Signal, RiskContext], Denial | None]

RULES: tuple[tuple[DenyCode, Rule], ...] = (
    (DenyCode.TRADING_STATE, check_trading_state),
    (DenyCode.MODE, check_mode),
    (DenyCode.STRATEGY_NOT_ALLOWED, check_strategy_allowed),
    (DenyCode.INSTRUMENT_NOT_ALLOWED, check_instrument_allowed),
    (DenyCode.NOT_PROMOTED, check_promoted),
    (DenyCode.WINDOW_NOT_OPEN, check_window_open),
    (DenyCode.ORDERS_PER_WINDOW, check_orders_per_window),
    (DenyCode.POSITION_CAP, check_position_cap),
    (DenyCode.SESSION_LOSS, check_session_loss),
    (DenyCode.INSTRUMENT_CAP, check_instrument_cap),
    (DenyCode.INSUFFICIENT_BALANCE, check_balance),
    (DenyCode.UNKNOWN_ORDER_BLOCK, check_unknown_orders),
    (DenyCode.SETTLEMENT_PENDING, check_unsettled_fills),
    (DenyCode.TOKEN_INVALID, check_token),
    (DenyCode.PRICE_INVALID, check_price),
    (DenyCode.EXIT_BELOW_MINIMUM, check_exit_reachable),
    (DenyCode.DUPLICATE_SIGNAL, check_duplicate),
)


def evaluate(signal: Signal, ctx: RiskContext) -> Verdict:
    """Run every rule in order; the first denial decides. Approved verdicts carry the limit."""
    for _, rule in RULES:
        denial = rule(signal, ctx)
        if denial is not None:
            return Verdict(denial, None)
    tick = ctx.window.tick_size  # type: ignore[union-attr]  # check_window_open passed
    return Verdict(None, worst_price(OrderSide.BUY, ctx.best_ask, tick, signal.max_price))
