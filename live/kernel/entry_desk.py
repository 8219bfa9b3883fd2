"""The entry desk: strategy → Signal → risk envelope → entry order, with every signal and verdict
recorded (and its audit sentence).

It works with what it is handed, never with the engine: the market state (books, oracle, windows),
the order book (it mints the order and position ids), the position book, the records list, a
`dispatch` callable that sends an order, and at each evaluation a `Moment` — the engine's clock,
trading state, controls, balance and stale feeds at that instant.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from live.kernel.audit import decision_sentence
from live.kernel.controls import Controls
from live.kernel.domain import (
    ZERO,
    Asset,
    Mode,
    Order,
    OrderPurpose,
    OrderSide,
    OrderType,
    RiskParams,
    Signal,
    TradingState,
    Window,
)
from live.kernel.events import SignalLine
from live.kernel.order_book import OrderBook
from live.kernel.positions import PositionBook
from live.kernel.prereg_limits import PreregLimits, StrategyBook
from live.kernel.prereg_limits import check as prereg_check
from live.kernel.records import DecisionRecord, SignalRecord
from live.kernel.risk import RiskContext, evaluate
from live.kernel.state import MarketState, WindowState
from live.kernel.strategy import Strategy, WindowView


@dataclass(frozen=True, slots=True)
class Moment:
    """The engine at the instant of an entry decision, as the risk envelope needs it: `now` (ms),
    the trading state, the controls, the venue's balance in USD (None = not known) and the assets
    whose feeds the runner's watchdog calls stale."""

    now: int
    trading_state: TradingState
    controls: Controls
    balance_usd: Decimal | None
    stale_assets: Set[str]


class EntryDesk:
    """Turns due strategies into decisions and entry orders. `promoted(name)` is the promotion
    gate (LIVE); `signal_id_prefix` keeps ids apart between engines sharing one database."""

    def __init__(
        self,
        *,
        mode: Mode,
        run_id: str,
        market: MarketState,
        orders: OrderBook,
        positions: PositionBook,
        records: list[Any],
        dispatch: Callable[[Order], Order],
        promoted: Callable[[str], bool],
        signal_id_prefix: str = "",
        prereg: Callable[[str], PreregLimits | None] = lambda name: None,
    ) -> None:
        self.mode, self.run_id = mode, run_id
        self.market, self.orders, self.positions = market, orders, positions
        self.records = records
        self.dispatch = dispatch
        self.promoted = promoted
        self.prereg = prereg
        self.signal_id_prefix = signal_id_prefix
        self.signal_ids: set[str] = set()
        self.approved: dict[str, int] = {}  # signal id -> decision ts (assertion 1)
        # The realised net P&L of the session's earlier runs (adoption.py) and their session.
        self.prior_realised = ZERO
        self.prior_session: int | None = None

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        strategy: Strategy,
        ws: WindowState | None,
        line: SignalLine | None,
        moment: Moment,
    ) -> bool:
        """Ask `strategy` about the window (or the scripted `line`); a signal goes through risk
        and, approved, becomes an entry order that is dispatched. True if it signalled."""
        if ws is None:
            orphan = None if line is None else _orphan_signal(strategy, line)
            if orphan is not None:  # a scripted signal for a window we never saw: denied
                self._decide(strategy, orphan, None, moment)
            return False
        market, window = self.market, ws.window
        up = market.books.get(window.token_up)
        down = market.books.get(window.token_down)
        oracle = market.last_oracle.get(window.asset)
        tape = market.tapes.get(window.asset)
        view = WindowView(moment.now, window, up, down, oracle, strategy, line, tape)
        signal = strategy.evaluate(view)
        if signal is None:
            return False
        if self.signal_id_prefix:
            signal = replace(signal, signal_id=self.signal_id_prefix + signal.signal_id)
        self._decide(strategy, signal, ws, moment)
        return True

    def _decide(
        self, strategy: Strategy, signal: Signal, ws: WindowState | None, moment: Moment
    ) -> None:
        now = moment.now
        self.records.append(_signal_record(signal, self.mode, self.run_id))
        ctx = self.context(strategy, signal, ws, moment)
        verdict = evaluate(signal, ctx)
        if verdict.denial is None and ws is not None:
            limits = self.prereg(strategy.name)
            if limits is not None:
                book = self.strategy_book(strategy.name, signal.window_slug)
                denial = prereg_check(limits, signal, signal.risk, ws.window, book)
                if denial is not None:
                    verdict = replace(verdict, denial=denial, worst_price=None)
        self.signal_ids.add(signal.signal_id)
        denial = verdict.denial
        inputs = {
            "ts": now,
            "strategy": strategy.name,
            "clob_price": ctx.best_ask,
            "reason": signal.inputs.get("reason"),
            "balance_usd": None if ctx.balance_usd is None else str(ctx.balance_usd),
            "trading_state": str(ctx.trading_state),
            "usd": str(signal.usd),
            "side": str(signal.side),
            "worst_price": None if verdict.worst_price is None else str(verdict.worst_price),
        }
        code = None if denial is None else str(denial.code)
        detail = {} if denial is None else dict(denial.detail)
        decision = DecisionRecord(
            ts=now,
            mode=self.mode,
            run_id=self.run_id,
            signal_id=signal.signal_id,
            strategy=strategy.name,
            window_slug=signal.window_slug,
            verdict="APPROVED" if denial is None else "DENIED",
            code=code,
            detail=detail,
            inputs=inputs,
            audit=decision_sentence(inputs, code, detail),
        )
        at = len(self.records)
        self.records.append(decision)  # before the order's records, whatever dispatch does
        if denial is None and ws is not None and verdict.worst_price is not None:
            order = self._enter(signal, ws.window, verdict.worst_price, now)
            # The order it placed: its id, and its send time when the venue took it at once
            # (simulated); in LIVE the runner sends it later and stamps the order.
            placed = {"client_order_id": order.client_order_id, "sent_ts": order.sent_ts}
            inputs = {**inputs, **placed}
            self.records[at] = replace(
                decision, inputs=inputs, audit=decision_sentence(inputs, code, detail)
            )

    def _enter(self, signal: Signal, window: Window, worst: Decimal, now: int) -> Order:
        order = self.orders.new_order(
            window=window,
            strategy=signal.strategy,
            outcome=signal.side,
            side=OrderSide.BUY,
            purpose=OrderPurpose.ENTRY,
            order_type=OrderType.FAK,
            worst=worst,
            position_id=self.positions.reusable(signal.strategy, window.slug, signal.side),
            now=now,
            requested_usd=signal.usd,
            signal_id=signal.signal_id,
            position_risk=signal.risk,
        )
        self.approved[signal.signal_id] = now
        return self.dispatch(order)

    # ------------------------------------------------------------------ risk inputs

    def context(
        self, strategy: Strategy, signal: Signal, ws: WindowState | None, moment: Moment
    ) -> RiskContext:
        """Everything the risk envelope looks at for `signal`, at `moment`."""
        market, orders = self.market, self.orders
        window = None if ws is None else ws.window
        token = None if window is None else window.token_for(signal.side)
        book = None if token is None else market.books.get(token)
        exposure = self.exposures(signal)
        balance = moment.balance_usd
        return RiskContext(
            now=moment.now,
            mode=self.mode,
            strategy_aliases=strategy.aliases,
            trading_state=moment.trading_state,
            controls=moment.controls,
            promoted=bool(self.promoted(strategy.name)),
            window=window,
            entry_orders_in_window=orders.entries_by_window.get(signal.window_slug, 0),
            position_exposure_usd=exposure["position"],
            session_loss_usd=self.session_loss(),
            deployed_usd=exposure["deployed"],
            instrument_exposure_usd=exposure["instrument"],
            balance_usd=None if balance is None else balance - exposure["pending"],
            unknown_order_on_window=orders.unknown_on(signal.window_slug),
            unsettled_fill_on_window=orders.unsettled_on(signal.window_slug),
            token_id=token,
            token_valid=bool(token) and market.token_window.get(token) == signal.window_slug,
            best_ask=None if book is None else book.best_ask,
            signal_seen=signal.signal_id in self.signal_ids,
            entry_pending=exposure["entry_pending"] > 0,
            feed_stale=signal.asset in moment.stale_assets,
        )

    def exposures(self, signal: Signal) -> dict[str, Any]:
        """Open exposure (remaining cost of open positions + unfilled entry orders): in total, on
        the signal's asset, on its (strategy, window, side) position."""
        out = {"position": ZERO, "deployed": ZERO, "instrument": ZERO, "pending": ZERO}
        out["entry_pending"] = 0
        positions = self.positions
        for pos in positions.open_positions():
            amount = positions.exposure(pos)
            self._add(out, signal, amount, pos.asset, pos.strategy, pos.window_slug, pos.outcome)
        for order in self.orders.working():
            if order.purpose is not OrderPurpose.ENTRY:
                continue
            left = max((order.requested_usd or ZERO) - order.notional, ZERO)
            asset = self.market.windows[order.window_slug].window.asset
            self._add(out, signal, left, asset, order.strategy, order.window_slug, order.outcome)
            out["pending"] += left
            if order.strategy == signal.strategy and order.window_slug == signal.window_slug:
                out["entry_pending"] += 1
        return out

    @staticmethod
    def _add(out, signal: Signal, amount, asset, strategy, slug, outcome) -> None:
        out["deployed"] += amount
        if asset == signal.asset:
            out["instrument"] += amount
        if (strategy, slug, outcome) == (signal.strategy, signal.window_slug, signal.side):
            out["position"] += amount

    def strategy_book(self, strategy: str, window_slug: str) -> StrategyBook:
        """The strategy's entries on the window, realised loss and deployed capital (USD)."""
        entries = sum(
            1
            for o in self.orders
            if o.strategy == strategy and o.window_slug == window_slug
            and o.purpose is OrderPurpose.ENTRY
        )  # fmt: skip
        realised = sum(
            (p.pnl_net for p in self.positions if p.strategy == strategy and p.pnl_net is not None),
            start=ZERO,
        )
        deployed = sum(
            (self.positions.exposure(p) for p in self.positions.open_positions()
             if p.strategy == strategy),
            start=ZERO,
        )  # fmt: skip
        for order in self.orders.working():
            if order.strategy == strategy and order.purpose is OrderPurpose.ENTRY:
                deployed += max((order.requested_usd or ZERO) - order.notional, ZERO)
        return StrategyBook(entries, max(-realised, ZERO), deployed)

    def session_loss(self) -> Decimal:
        """The realised net loss of the session so far, in USD (≥ 0): this engine's positions
        and, after a restart, what the session's earlier runs realised (adoption.py)."""
        realised = sum(
            (p.pnl_net for p in self.positions if p.pnl_net is not None), start=self.prior_realised
        )
        return max(-realised, ZERO)


def _signal_record(signal: Signal, mode: Mode, run_id: str) -> SignalRecord:
    return SignalRecord(
        signal_id=signal.signal_id,
        ts=signal.ts,
        mode=mode,
        run_id=run_id,
        strategy=signal.strategy,
        window_slug=signal.window_slug,
        asset=str(signal.asset),
        side=str(signal.side),
        usd=signal.usd,
        max_price=signal.max_price,
        confidence=signal.confidence,
        stop_loss=signal.risk.stop_loss,
        take_profit=signal.risk.take_profit,
        trailing_stop=signal.risk.trailing_stop,
        inputs={k: str(v) for k, v in signal.inputs.items()},
    )


def _orphan_signal(strategy: Strategy, line: SignalLine) -> Signal | None:
    """A scripted signal for an unknown window (recorded, then denied WINDOW_NOT_OPEN); None when
    the slug does not even name an asset."""
    asset = line.slug.split("-", 1)[0].upper()
    if line.strategy != strategy.name or asset not in Asset.__members__:
        return None
    return Signal(
        signal_id=line.signal_id or f"{strategy.name}:{line.slug}:{line.ts}",
        ts=line.ts,
        strategy=strategy.name,
        window_slug=line.slug,
        asset=Asset(asset),
        side=line.side,
        usd=line.usd,
        max_price=line.max_price,
        risk=RiskParams(line.stop_loss, line.take_profit, line.trailing_stop),
        inputs={"reason": "scripted signal line"},
    )
