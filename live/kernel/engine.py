"""The deterministic kernel (DESIGN §1, §4): one code path for LIVE, PAPER, DRY_RUN and BACKTEST.

`Engine.process(event)` applies one journal event: update market state → fire what is due (window
open and close, our resolution, strategies whose entry time has come; order confirmation
timeouts) → exits of positions on the touched token → repeat strategies → risk → commands. It
returns the commands for the runner and appends records (live.kernel.records) to `engine.records`
(`take_records()` drains them). Time is the events' `ts`; there is no clock, network or DB.

The engine routes events and owns the trading state; its desks do the work, each handed only what
it uses: entry (strategy → signal → risk → entry order), exit (position → exit order), order
(dispatch; the venue's answers applied to orders, fills, cash, positions) and settlement (close →
our resolution → the venue's → positions settled). Simulated modes execute orders in-process (the
executor answers at once, same ts); in LIVE the runner executes `PlaceOrder` and feeds the venue's
answers back as events. Both go through `OrderDesk.apply`: the paths differ only in who answers.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from live.kernel import adoption as adoption_
from live.kernel.assertions import Evidence, run_all
from live.kernel.book import Book
from live.kernel.commands import Alert as AlertCommand
from live.kernel.commands import CancelOrder, Command
from live.kernel.controls import InvalidControl
from live.kernel.domain import (
    TERMINAL_ORDER_STATES,
    ZERO,
    Agreement,
    Order,
    PositionState,
    TradingState,
)
from live.kernel.drawdown import DrawdownGuard
from live.kernel.engine_config import EngineConfig, default_controls
from live.kernel.entry_desk import EntryDesk, Moment
from live.kernel.events import (
    BalanceReport,
    BookDelta,
    BookSnapshot,
    ControlChange,
    FillSettled,
    OracleTick,
    OrderAck,
    OrderCancel,
    OrderFill,
    OrderReject,
    OrderSent,
    OrderUnknown,
    Redeemed,
    Resolved,
    SignalLine,
    Timer,
    Trade,
    VenuePositions,
    WindowListed,
)
from live.kernel.executors import simulated_venue
from live.kernel.exit_desk import ExitDesk
from live.kernel.fsm import InvalidTransition
from live.kernel.ledger import Ledger
from live.kernel.order_book import OrderBook
from live.kernel.order_desk import OrderDesk
from live.kernel.positions import PositionBook
from live.kernel.records import AssertionRecord
from live.kernel.settlement_desk import SettlementDesk
from live.kernel.state import OPEN, MarketState
from live.kernel.strategy import Strategy
from live.kernel.timers import CLOSE_WINDOW, OPEN_WINDOW, OUR_RESOLUTION, STRATEGY_DUE, Timers
from live.kernel.trading_state import Breaker, derive_state


class Engine:
    """The kernel. Build with an EngineConfig, then call `process(event)` for each event."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.mode = mode = config.mode
        self.run_id = run_id = config.run_id
        self.controls = config.controls or default_controls(config.mode)
        self.records: list[Any] = []
        self.now = 0
        self.market = market = MarketState()
        self.orders = orders = OrderBook(mode, run_id, self.records)
        self.positions = positions = PositionBook(mode, run_id, self.records)
        self.breaker = Breaker(mode, run_id)
        self.drawdown = DrawdownGuard()
        self.trading_state = TradingState.ACTIVE
        self.executor = config.executor or simulated_venue(mode, config.balance_usd)
        self.ledger = Ledger(mode, run_id, self.records, config.balance_usd, self.executor)
        self._balances_opened = False
        self.max_tick_ms = 0
        self.stale_assets: set[str] = set()
        self._commands: list[Command] = []
        self.timers = Timers()
        self._due = self.timers.heap  # the per-event "anything due?" check reads the heap
        self._repeat: dict[str, list[Strategy]] = {}
        self.entries = EntryDesk(
            mode=mode,
            run_id=run_id,
            market=market,
            orders=orders,
            positions=positions,
            records=self.records,
            dispatch=self.dispatch,
            promoted=config.promoted,
            signal_id_prefix=config.signal_id_prefix,
            prereg=config.prereg,
        )
        self.exits = ExitDesk(
            market=market,
            orders=orders,
            positions=positions,
            dispatch=self.dispatch,
            emit=self.emit,
            flattening=self._flattening,
            trading_state=lambda: self.trading_state,
        )
        self.order_desk = OrderDesk(
            market=market,
            orders=orders,
            positions=positions,
            ledger=self.ledger,
            exits=self.exits,
            emit=self.emit,
            on_position_closed=self._on_position_closed,
        )
        self.settlement = SettlementDesk(
            mode=mode,
            run_id=run_id,
            market=market,
            positions=positions,
            ledger=self.ledger,
            records=self.records,
        )
        self.adopted: adoption_.Adoption | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            BookSnapshot: self._on_book,
            BookDelta: self._on_book_delta,
            Trade: _ignore,
            OracleTick: self._on_oracle,
            WindowListed: self._on_window,
            Resolved: self._on_resolved,
            ControlChange: self._on_control,
            SignalLine: self._on_signal_line,
            OrderSent: self._on_order_sent,
            OrderAck: self._on_venue_result,
            OrderReject: self._on_venue_result,
            OrderFill: self._on_venue_result,
            OrderCancel: self._on_venue_result,
            OrderUnknown: self._on_venue_result,
            FillSettled: self._on_fill_settled,
            BalanceReport: self._on_balance,
            VenuePositions: self.ledger.on_venue_positions,
            Redeemed: self._on_redeemed,
            Timer: _ignore,
        }

    # ------------------------------------------------------------------ public API

    def process(self, event: Any) -> list[Command]:
        """Apply one event; returns the commands it caused (informational in simulated modes,
        where they have already been executed)."""
        if event.ts > self.now:
            self.now = event.ts
        if not self._balances_opened and self.executor is not None:
            self._balances_opened = True  # the simulated venue's opening balance (item 10)
            self.ledger.record_balances(self.now)
        self._commands = []
        try:
            self._handlers[type(event)](event)
            if self._due and self._due[0][0] <= self.now:
                self._fire_timers()
            if self.orders.deadlines:
                self.order_desk.expire_unconfirmed(self.now)
            self.drawdown.watch(
                now=self.now, ledger=self.ledger, positions=self.positions,
                books=self.market.books, controls=self.controls, trip=self.trip, emit=self.emit,
            )  # fmt: skip
        except InvalidTransition as exc:
            self.trip(f"invalid transition: {exc}", {"machine": exc.machine, "key": exc.key})
        return self._commands

    def emit(self, command: Command) -> None:
        """Add `command` to those the current event returns: the one way anything in the kernel
        asks the runner to act (place, cancel, alert)."""
        self._commands.append(command)

    def dispatch(self, order: Order) -> Order:
        """Send a NEW order now (the order desk: SUBMITTED, then executed in-process in simulated
        modes or handed to the runner as a PlaceOrder command in LIVE); returns it SUBMITTED."""
        return self.order_desk.dispatch(order, self.now)

    def export_adoption(self) -> adoption_.Adoption:
        """What this engine owns now (open positions, working and UNKNOWN orders, windows and
        timers, per-window entry counts, the session's realised P&L, decided signals), for the
        engine that takes over (live/kernel/adoption.py)."""
        return adoption_.export(self)

    def adopt(self, adoption: adoption_.Adoption) -> None:
        """Own what an earlier engine owned (a fresh engine, before its first event)."""
        adoption_.adopt(self, adoption)

    def take_records(self) -> list[Any]:
        """The records emitted since the last call, in order (for the persistence sink)."""
        out = self.records[:]
        self.records.clear()
        return out

    def trip(self, reason: str, detail: dict[str, Any] | None = None) -> None:
        """Trip the circuit breaker: no new entries, exits continue."""
        self.records.append(self.breaker.trip(self.now, reason, detail))
        self.emit(AlertCommand("breaker", "critical", reason))
        self._refresh_trading_state()

    def reset_breaker(self, ts: int, reason: str = "operator reset") -> None:
        self.drawdown.rearm()  # the drawdown counts again from the equity at the reset
        self.records.append(self.breaker.reset(ts, reason))
        self._refresh_trading_state()

    def set_feed_stale(self, asset: str, stale: bool) -> None:
        """The runner's feed watchdog marks an asset's data stale (no entries) or fresh again."""
        if stale:
            self.stale_assets.add(asset)
        else:
            self.stale_assets.discard(asset)

    def report_tick_duration(self, ms: int) -> None:
        """The runner reports how long it took to handle a tick (assertion 10)."""
        self.max_tick_ms = max(self.max_tick_ms, ms)

    def run_assertions(self, window_slug: str | None = None) -> bool:
        """Run the ten runtime assertions now, record every result; a failure trips the breaker."""
        ok = True
        for result in run_all(self._evidence(), window_slug):
            self.records.append(result)
            if not result.ok:
                ok = False
                self.trip(f"assertion failed: {result.name}", dict(result.detail))
        return ok

    @property
    def cash(self) -> Decimal | None:
        """Our own ledger's cash (the expected balance), USD; None in LIVE until it is known."""
        return self.ledger.cash

    @property
    def venue_cash(self) -> Decimal | None:
        """The venue's balance: the simulated venue's ledger, or the last `balance` report."""
        return self.ledger.venue_cash

    # ------------------------------------------------------------------ what the desks read

    def _moment(self) -> Moment:
        balance = self.ledger.venue_cash
        return Moment(self.now, self.trading_state, self.controls, balance, self.stale_assets)

    def _flattening(self) -> bool:
        return self.trading_state in (TradingState.FLATTENING, TradingState.EMERGENCY)

    def _evidence(self) -> Evidence:
        return Evidence(
            now=self.now,
            mode=self.mode,
            run_id=self.run_id,
            orders=self.orders,
            positions=self.positions,
            windows=self.market.windows,
            approved=self.entries.approved,
            controls=self.controls,
            ledger=self.ledger,
            max_tick_ms=self.max_tick_ms,
        )

    # ------------------------------------------------------------------ events

    def _on_book(self, ev: BookSnapshot) -> None:
        book = self.market.book(ev.token_id)
        book.apply_snapshot(ev.bids, ev.asks, ev.ts)
        self._after_book(ev.token_id, book)

    def _on_book_delta(self, ev: BookDelta) -> None:
        book = self.market.book(ev.token_id)
        book.apply_delta(ev.side, ev.price, ev.size, ev.ts)
        self._after_book(ev.token_id, book)

    def _after_book(self, token_id: str, book: Book) -> None:
        held = self.positions.by_token.get(token_id)
        if held:
            bid = book.best_bid
            if bid is not None:
                for pid in list(held):
                    self.positions.mark(pid, Decimal(str(bid)), self.now)
            self.exits.check(list(held), self.now)
        if self._repeat:
            slug = self.market.token_window.get(token_id)
            if slug in self._repeat:
                self._evaluate_repeat(slug)

    def _on_oracle(self, ev: OracleTick) -> None:
        self.market.oracle(ev.asset).add(ev.ts, ev.price)
        self.market.last_oracle[ev.asset] = ev.price

    def _on_window(self, ev: WindowListed) -> None:
        if self.market.list_window(ev.window):
            self.timers.window_listed(ev.window, self.config.strategies)

    def _on_signal_line(self, ev: SignalLine) -> None:
        ws = self.market.windows.get(ev.slug)
        for strategy in self.config.strategies:
            if strategy.timing.on_signal_lines:
                self.entries.evaluate(strategy, ws, ev, self._moment())

    def _on_control(self, ev: ControlChange) -> None:
        try:
            self.controls = self.controls.with_value(ev.key, ev.value)
        except InvalidControl as exc:
            # Fail closed: an unreadable control stops new entries (DESIGN §1.3).
            self.trip(f"invalid control: {exc}", {"key": ev.key, "value": ev.value})
            return
        self._refresh_trading_state()

    def _on_balance(self, ev: BalanceReport) -> None:
        own, ledger = self.run_id, self.ledger
        learning = ledger.cash is None
        first = not any(o.run_id == own for o in self.orders)
        if learning and self.adopted is not None:
            if self._adopted_receivables_pending():
                # A redemption an earlier run sent may land at any time until the desk has
                # seen each adopted receivable redeemed: a balance taken before cannot tell
                # whether it holds that cash. The starting cash waits (no entries meanwhile).
                ledger.on_balance(ev, before_first_order=False)
                return
            # Mid-session any report taken after our last change will do (exits of adopted
            # positions may have been sent while the starting cash waited).
            first = first or ev.ts >= ledger.book_changed_ts
        ledger.on_balance(ev, before_first_order=first)
        if learning and ledger.cash is not None and self.adopted is not None:
            # After an adoption the first report is mid-session: the starting cash is what makes
            # assertion 5 hold at this instant (realised P&L and the cost still tied up in the
            # adopted positions happened before it; so did the resolutions whose receivables
            # it adopted: their cash is not in this balance yet).
            realised = sum((p.pnl_net for p in self.positions if p.pnl_net is not None), ZERO)
            tied = sum(
                (p.cost + p.fees - p.proceeds for p in self.positions if p.pnl_net is None), ZERO
            )
            ledger.initial_cash = ev.usd - realised + tied + ledger.receivables.total

    def _adopted_receivables_pending(self) -> bool:
        """Any receivable still pending while the starting cash is learnt after an adoption:
        the adopted ones, and those of positions an adopted order opened on a window already
        resolved (settled at once, `_settle_late_entry`): the earlier run may have redeemed
        them already (the db-outage drill: a report that held the payout set the starting
        cash, the Redeemed then counted it twice and assertion 5 tripped for good)."""
        return self.adopted is not None and bool(self.ledger.receivables.pending)

    def _on_order_sent(self, ev: OrderSent) -> None:
        """The runner sent an order (LIVE): its send time, "order placed at" in the audit."""
        self.orders.mark_sent(ev.client_order_id, ev.ts)

    def _on_fill_settled(self, ev: FillSettled) -> None:
        self.order_desk.settle_fill(ev, self.now)

    def _on_redeemed(self, ev: Redeemed) -> None:
        """A confirmed redemption: the window's receivable is cash now (LIVE)."""
        self.ledger.on_redeemed(ev)

    def _on_venue_result(self, ev: Any) -> None:
        self.order_desk.apply(ev, self.now)
        self._settle_late_entry(ev.client_order_id)

    def _settle_late_entry(self, client_order_id: str) -> None:
        """An order final only after its window resolved in this engine's view (an order a
        takeover adopted in flight: the observer saw the resolution, the venue's answer came
        after; `updown drill db-outage --seconds 30` left such positions MONITORING for ever):
        its position is settled at once, as it would have been at the resolution."""
        order = self.orders.get(client_order_id)
        if order is None or order.position_id is None or order.state not in TERMINAL_ORDER_STATES:
            return
        position = self.positions.positions.get(order.position_id)
        if position is None or position.state is PositionState.CLOSED:
            return
        ws = self.market.windows.get(position.window_slug)
        if ws is not None and ws.winner is not None:
            adoption_.settle_already_resolved(self, {position.window_slug})
            self._on_position_closed()

    def _on_resolved(self, ev: Resolved) -> None:
        ws = self.market.windows.get(ev.slug)
        if ws is None:
            self.emit(AlertCommand("settlement", "warning", f"unknown {ev.slug}"))
            return
        if ws.winner is not None:
            if ws.winner is not ev.winner:
                self.trip("contradicting venue resolutions", {"slug": ev.slug})
            return
        settled = self.settlement.settle(ws, ev)
        if settled.positions:
            # Our holdings changed (open → redeemable): venue reports taken before describe
            # another instant. A window we held nothing on changes nothing of ours (with short
            # windows resolving more often than the Data API's lag bound, marking every
            # resolution would leave no positions report ever comparable).
            self.ledger.changed_at(self.now)
            self._on_position_closed()
        if settled.agreement is Agreement.DISAGREE:
            detail = {"ours": str(settled.ours), "venue": str(ev.winner)}
            name = "settlement_agrees_with_venue"
            self.records.append(
                AssertionRecord(self.now, name, False, detail, self.mode, self.run_id, ev.slug)
            )
            self.trip(f"assertion failed: {name}", {"slug": ev.slug, **detail})
        if settled.positions:
            self.run_assertions(ev.slug)

    # ------------------------------------------------------------------ timers

    def _fire_timers(self) -> None:
        windows = self.market.windows
        for kind, key in self.timers.pop_due(self.now):
            if kind == STRATEGY_DUE:
                slug, strategy = key
                signalled = self.entries.evaluate(strategy, windows.get(slug), None, self._moment())
                if strategy.timing.repeat and not signalled:  # asked again only until it signals
                    self._repeat.setdefault(slug, []).append(strategy)
            elif kind == OPEN_WINDOW:
                windows[key].advance(OPEN)
            elif kind == CLOSE_WINDOW:
                self._repeat.pop(key, None)  # repeat strategies stop at the close
                self.settlement.close(key, self.now)
            elif kind == OUR_RESOLUTION:
                self.settlement.resolve_ours(windows[key])

    def _evaluate_repeat(self, slug: str) -> None:
        ws = self.market.windows[slug]
        for strategy in list(self._repeat[slug]):
            if self.entries.evaluate(strategy, ws, None, self._moment()):
                self._repeat[slug].remove(strategy)

    # ------------------------------------------------------------------ trading state

    def _on_position_closed(self) -> None:
        if self._flattening():
            self._refresh_trading_state()

    def _refresh_trading_state(self) -> None:
        open_count = sum(1 for _ in self.positions.open_positions())
        working = sum(1 for _ in self.orders.working())
        previous = self.trading_state
        self.trading_state = derive_state(
            self.controls.kill_switch, self.breaker.tripped, open_count, working
        )
        if self.trading_state is previous:
            return
        if self.trading_state is TradingState.EMERGENCY:
            for order in self.orders.working():
                self.emit(CancelOrder(order.client_order_id, order.venue_order_id, "EMERGENCY"))
        if self._flattening():
            self.exits.check([p.position_id for p in self.positions.open_positions()], self.now)
            self._refresh_trading_state()


def _ignore(event: Any) -> None:
    return None


__all__ = ["Engine", "EngineConfig", "Command"]
