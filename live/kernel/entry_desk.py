"""The entry path of the kernel: strategy → Signal → risk envelope → order, with every signal and
verdict recorded (and its audit sentence). Also where ids are minted: the client order id exists
before anything is sent (spec P0 item 3)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from live.kernel.audit import decision_sentence
from live.kernel.domain import (
    ZERO,
    Asset,
    Fill,
    Order,
    OrderPurpose,
    OrderSide,
    OrderState,
    OrderType,
    Outcome,
    RiskParams,
    Signal,
    Window,
)
from live.kernel.events import OrderFill, Resolved, SignalLine
from live.kernel.records import DecisionRecord, SettlementRecord, SignalRecord
from live.kernel.risk import RiskContext, evaluate
from live.kernel.settlement import agreement
from live.kernel.state import WindowState
from live.kernel.strategy import Strategy, WindowView

if TYPE_CHECKING:
    from live.kernel.engine import Engine


class EntryDesk:
    """Turns due strategies into decisions and entry orders for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._order_seq = 0
        self._position_seq = 0
        self._risk: dict[str, RiskParams] = {}
        self.signal_ids: set[str] = set()
        self.approved: dict[str, int] = {}  # signal id -> decision ts (assertion 1)

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self, strategy: Strategy, ws: WindowState | None, slug: str, line: SignalLine | None
    ) -> bool:
        """Ask `strategy` about the window; a signal goes through risk. True if it signalled."""
        e = self.engine
        if ws is None:
            orphan = None if line is None else _orphan_signal(strategy, line)
            if orphan is not None:  # a scripted signal for a window we never saw: denied
                self._decide(strategy, orphan, None)
            return False
        up = e.market.books.get(ws.window.token_up)
        down = e.market.books.get(ws.window.token_down)
        oracle = e.market.last_oracle.get(ws.window.asset)
        tape = e.market.tapes.get(ws.window.asset)
        view = WindowView(e.now, ws.window, up, down, oracle, strategy, line, tape)
        signal = strategy.evaluate(view)
        if signal is None:
            return False
        if e.config.signal_id_prefix:
            signal = replace(signal, signal_id=e.config.signal_id_prefix + signal.signal_id)
        self._decide(strategy, signal, ws)
        return True

    def _decide(self, strategy: Strategy, signal: Signal, ws: WindowState | None) -> None:
        e = self.engine
        e.records.append(_signal_record(signal, e))
        ctx = self.context(strategy, signal, ws)
        verdict = evaluate(signal, ctx)
        self.signal_ids.add(signal.signal_id)
        denial = verdict.denial
        inputs = {
            "ts": e.now,
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
        e.records.append(
            DecisionRecord(
                ts=e.now,
                mode=e.mode,
                run_id=e.run_id,
                signal_id=signal.signal_id,
                strategy=strategy.name,
                window_slug=signal.window_slug,
                verdict="APPROVED" if denial is None else "DENIED",
                code=code,
                detail=detail,
                inputs=inputs,
                audit=decision_sentence(inputs, code, detail),
            )
        )
        if denial is None and ws is not None and verdict.worst_price is not None:
            self._enter(signal, ws.window, verdict.worst_price)

    def _enter(self, signal: Signal, window: Window, worst: Decimal) -> None:
        e = self.engine
        current = e.positions.reusable(signal.strategy, window.slug, signal.side)
        pid = current or self.next_position_id()
        order = self.new_order(
            window=window,
            strategy=signal.strategy,
            outcome=signal.side,
            side=OrderSide.BUY,
            purpose=OrderPurpose.ENTRY,
            order_type=OrderType.FAK,
            worst=worst,
            position_id=pid,
            requested_usd=signal.usd,
            signal_id=signal.signal_id,
        )
        self._risk[order.client_order_id] = signal.risk
        self.approved[signal.signal_id] = e.now
        e.dispatch(order)

    # ------------------------------------------------------------------ risk inputs

    def context(self, strategy: Strategy, signal: Signal, ws: WindowState | None) -> RiskContext:
        e = self.engine
        window = None if ws is None else ws.window
        token = None if window is None else window.token_for(signal.side)
        book = None if token is None else e.market.books.get(token)
        exposure = self.exposures(signal)
        balance = e.venue_cash
        return RiskContext(
            now=e.now,
            mode=e.mode,
            strategy_aliases=strategy.aliases,
            trading_state=e.trading_state,
            controls=e.controls,
            promoted=bool(e.config.promoted(strategy.name)),
            window=window,
            entry_orders_in_window=e.orders.entries_by_window.get(signal.window_slug, 0),
            position_exposure_usd=exposure["position"],
            session_loss_usd=self.session_loss(),
            deployed_usd=exposure["deployed"],
            instrument_exposure_usd=exposure["instrument"],
            balance_usd=None if balance is None else balance - exposure["pending"],
            unknown_order_on_window=e.orders.unknown_on(signal.window_slug),
            token_id=token,
            token_valid=bool(token) and e.market.token_window.get(token) == signal.window_slug,
            best_ask=None if book is None else book.best_ask,
            signal_seen=signal.signal_id in self.signal_ids,
            entry_pending=exposure["entry_pending"] > 0,
            feed_stale=signal.asset in e.stale_assets,
        )

    def exposures(self, signal: Signal) -> dict[str, Any]:
        """Open exposure (remaining cost of open positions + unfilled entry orders): in total, on
        the signal's asset, on its (strategy, window, side) position."""
        e = self.engine
        out = {"position": ZERO, "deployed": ZERO, "instrument": ZERO, "pending": ZERO}
        out["entry_pending"] = 0
        for pos in e.positions.open_positions():
            amount = e.positions.exposure(pos)
            self._add(out, signal, amount, pos.asset, pos.strategy, pos.window_slug, pos.outcome)
        for order in e.orders.working():
            if order.purpose is not OrderPurpose.ENTRY:
                continue
            left = max((order.requested_usd or ZERO) - order.notional, ZERO)
            asset = e.market.windows[order.window_slug].window.asset
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

    def session_loss(self) -> Decimal:
        realised = sum(
            (p.pnl_net for p in self.engine.positions if p.pnl_net is not None), start=ZERO
        )
        return max(-realised, ZERO)

    # ------------------------------------------------------------------ ids and records

    def next_position_id(self) -> str:
        self._position_seq += 1
        return f"{self.engine.run_id}-p{self._position_seq:06d}"

    def new_order(
        self,
        *,
        window: Window,
        strategy: str,
        outcome: Outcome,
        side: OrderSide,
        purpose: OrderPurpose,
        order_type: OrderType,
        worst: Decimal,
        position_id: str,
        requested_usd: Decimal | None = None,
        requested_shares: Decimal | None = None,
        signal_id: str | None = None,
    ) -> Order:
        """A NEW order with its client order id already assigned."""
        e = self.engine
        self._order_seq += 1
        return Order(
            client_order_id=f"{e.run_id}-o{self._order_seq:06d}",
            venue_order_id=None,
            mode=e.mode,
            run_id=e.run_id,
            strategy=strategy,
            window_slug=window.slug,
            signal_id=signal_id,
            position_id=position_id,
            token_id=window.token_for(outcome),
            outcome=outcome,
            side=side,
            purpose=purpose,
            order_type=order_type,
            requested_usd=requested_usd,
            requested_shares=requested_shares,
            worst_price=worst,
            filled_shares=ZERO,
            avg_price=None,
            fee=ZERO,
            state=OrderState.NEW,
            reason=None,
            payload=None,
            book_snapshot=None,
            created_ts=e.now,
            updated_ts=e.now,
        )

    def risk_of(self, client_order_id: str) -> RiskParams:
        return self._risk.get(client_order_id, RiskParams())

    def fill_record(self, ev: OrderFill) -> Fill:
        e = self.engine
        return Fill(
            fill_id=ev.fill_id,
            client_order_id=ev.client_order_id,
            mode=e.mode,
            run_id=e.run_id,
            ts=ev.ts,
            price=ev.price,
            shares=ev.shares,
            fee=ev.fee,
            status=ev.status,
            intended_price=ev.intended_price,
            book_ratio=ev.book_ratio,
            impact_flag=ev.impact_flag,
        )

    def settlement_record(self, ws: WindowState, ev: Resolved) -> SettlementRecord:
        e = self.engine
        ours = ws.ours
        assert ours is not None
        return SettlementRecord(
            window_slug=ws.window.slug,
            mode=e.mode,
            run_id=e.run_id,
            ours=str(ours.resolution),
            venue=str(ev.winner),
            agreement=str(agreement(ours.resolution, ev.winner)),
            rule=str(ws.window.settlement_rule),
            strike=ws.window.strike,
            settlement_price=ours.price,
            ts=ev.ts,
            confirmed_ts=ev.ts,
            detail={k: str(v) for k, v in ours.detail.items()},
        )


def _signal_record(signal: Signal, e: Engine) -> SignalRecord:
    return SignalRecord(
        signal_id=signal.signal_id,
        ts=signal.ts,
        mode=e.mode,
        run_id=e.run_id,
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
