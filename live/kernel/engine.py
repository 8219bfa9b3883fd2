"""The deterministic kernel (DESIGN §1, §4): one code path for LIVE, PAPER, DRY_RUN and BACKTEST.

`Engine.process(event)` applies one journal event: update market state → fire what is due (order
confirmation timeouts, window close, our resolution, strategies whose entry time has come) →
evaluate exits of positions on the touched token → ask repeat strategies → risk → commands. It
returns the commands for the runner and appends records (live.kernel.records) to `engine.records`
for the sink (`take_records()` drains them). Time is the events' `ts`; there is no clock, network or
DB.

Simulated modes execute orders in-process (the executor answers with venue-result events applied
at once, same ts); in LIVE the runner executes `PlaceOrder` and feeds the venue's answers back as
events. Both go through `_apply_venue_result`, so the paths differ only in who answers.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from live.kernel import assertions
from live.kernel.book import Book
from live.kernel.commands import Alert as AlertCommand
from live.kernel.commands import CancelOrder, Command, PlaceOrder
from live.kernel.controls import ControlMode, Controls, InvalidControl
from live.kernel.domain import (
    DUST_SHARES,
    TERMINAL_ORDER_STATES,
    ZERO,
    Agreement,
    Mode,
    Order,
    OrderPurpose,
    OrderSide,
    OrderState,
    PositionState,
    TradingState,
)
from live.kernel.entry_desk import EntryDesk
from live.kernel.events import (
    BalanceReport,
    BookDelta,
    BookSnapshot,
    ControlChange,
    OracleTick,
    OrderAck,
    OrderCancel,
    OrderFill,
    OrderReject,
    OrderUnknown,
    Resolved,
    SignalLine,
    Timer,
    Trade,
    VenuePositions,
    WindowListed,
)
from live.kernel.executors import DryRunExecutor, PaperExecutor, SimExecutor, build_payload
from live.kernel.exit_desk import ExitDesk
from live.kernel.fsm import InvalidTransition
from live.kernel.order_book import OrderBook
from live.kernel.positions import PositionBook
from live.kernel.records import AssertionRecord, BalanceRecord
from live.kernel.settlement import agreement, resolve_ours
from live.kernel.state import CLOSE, OPEN, RESOLVE, MarketState, WindowState
from live.kernel.strategy import Strategy
from live.kernel.trading_state import Breaker, derive_state


@dataclass
class EngineConfig:
    """How to build an engine. `controls` default to `controls.DEFAULTS` with trading_mode set
    to the engine's mode (LIVE engines start with the DEFAULTS' PAPER, so they trade only once the
    control says LIVE). `balance_usd` is the starting balance of simulated modes (LIVE learns it
    from `balance` events). `promoted(name)` is the promotion gate (LIVE only)."""

    mode: Mode
    strategies: Sequence[Strategy]
    run_id: str = "run"
    controls: Controls | None = None
    balance_usd: Decimal | None = Decimal("100")
    promoted: Callable[[str], bool] = field(default=lambda name: False)
    executor: SimExecutor | None = None
    # Prepended to signal ids: engines sharing one database (a runner's PAPER / DRY_RUN copies
    # beside its LIVE engine) see the same windows at the same instants, so ids would collide.
    signal_id_prefix: str = ""


def _default_controls(mode: Mode) -> Controls:
    controls = Controls()
    if mode in (Mode.PAPER, Mode.DRY_RUN):
        controls = replace(controls, trading_mode=ControlMode(str(mode)))
    return controls


class Engine:
    """The kernel. Build with an EngineConfig, then call `process(event)` for each event."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.mode = config.mode
        self.run_id = config.run_id
        self.controls = config.controls or _default_controls(config.mode)
        self.records: list[Any] = []
        self.now = 0
        self.market = MarketState()
        self.orders = OrderBook(self.records)
        self.positions = PositionBook(self.mode, self.run_id, self.records)
        self.breaker = Breaker(self.mode, self.run_id)
        self.trading_state = TradingState.ACTIVE
        self.executor = config.executor or _default_executor(config)
        self.cash = config.balance_usd  # our own ledger (expected balance)
        self.initial_cash = config.balance_usd
        self.venue_balance: tuple[int, Decimal] | None = None
        self.venue_positions: tuple[int, dict[str, Decimal]] | None = None
        # When our positions or cash last changed (a fill, a settlement): a venue snapshot taken
        # before that describes another instant and is not compared (assertions 4 and 5).
        self.book_changed_ts = 0
        self._balances_opened = False
        self.max_tick_ms = 0
        self.stale_assets: set[str] = set()
        self._commands: list[Command] = []
        self._timers: list[tuple[int, int, str, Any]] = []
        self._timer_seq = 0
        self._repeat: dict[str, list[Strategy]] = {}
        self.entries = EntryDesk(self)
        self.exits = ExitDesk(self)
        self._handlers: dict[type, Callable[[Any], None]] = {
            BookSnapshot: self._on_book,
            BookDelta: self._on_book_delta,
            Trade: _ignore,
            OracleTick: self._on_oracle,
            WindowListed: self._on_window,
            Resolved: self._on_resolved,
            ControlChange: self._on_control,
            SignalLine: self._on_signal_line,
            OrderAck: self._apply_venue_result,
            OrderReject: self._apply_venue_result,
            OrderFill: self._apply_venue_result,
            OrderCancel: self._apply_venue_result,
            OrderUnknown: self._apply_venue_result,
            BalanceReport: self._on_balance,
            VenuePositions: self._on_venue_positions,
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
            self._record_balances(self.now)
        self._commands = []
        try:
            self._handlers[type(event)](event)
            if self._timers and self._timers[0][0] <= self.now:
                self._fire_timers()
            if self.orders.deadlines:
                self._expire_unconfirmed()
        except InvalidTransition as exc:
            self.trip(f"invalid transition: {exc}", {"machine": exc.machine, "key": exc.key})
        return self._commands

    def take_records(self) -> list[Any]:
        """The records emitted since the last call, in order (for the persistence sink)."""
        out = self.records[:]
        self.records.clear()
        return out

    def trip(self, reason: str, detail: dict[str, Any] | None = None) -> None:
        """Trip the circuit breaker: no new entries, exits continue."""
        self.records.append(self.breaker.trip(self.now, reason, detail))
        self._commands.append(AlertCommand("breaker", "critical", reason))
        self._refresh_trading_state()

    def reset_breaker(self, ts: int, reason: str = "operator reset") -> None:
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
        for result in assertions.run_all(self, window_slug):
            self.records.append(result)
            if not result.ok:
                ok = False
                self.trip(f"assertion failed: {result.name}", dict(result.detail))
        return ok

    @property
    def venue_cash(self) -> Decimal | None:
        """The venue's balance: the simulated venue's ledger, or the last `balance` report."""
        if self.executor is not None:
            return self.executor.cash
        return None if self.venue_balance is None else self.venue_balance[1]

    # ------------------------------------------------------------------ market data

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
            self.exits.check(list(held))
        if self._repeat:
            slug = self.market.token_window.get(token_id)
            if slug in self._repeat:
                self._evaluate_repeat(slug)

    def _on_oracle(self, ev: OracleTick) -> None:
        self.market.oracle(ev.asset).add(ev.ts, ev.price)
        self.market.last_oracle[ev.asset] = ev.price

    def _on_window(self, ev: WindowListed) -> None:
        window = ev.window
        new = self.market.list_window(window)
        if not new:
            return
        self._schedule(window.open_ts, "open", window.slug)
        self._schedule(window.close_ts, "close", window.slug)
        self._schedule(window.close_ts + 1000, "ours", window.slug)
        for strategy in self.config.strategies:
            timing = strategy.timing
            if timing.on_signal_lines or not strategy.scope.covers(window):
                continue
            offset = timing.before_close_ms
            if offset is not None:
                # A window shorter than twice the offset (sandbox test windows) enters mid-way.
                offset = min(offset, (window.close_ts - window.open_ts) // 2)
            due = window.open_ts if offset is None else window.close_ts - offset
            self._schedule(due, "strategy", (window.slug, strategy))

    def _on_signal_line(self, ev: SignalLine) -> None:
        ws = self.market.windows.get(ev.slug)
        for strategy in self.config.strategies:
            if strategy.timing.on_signal_lines:
                self.entries.evaluate(strategy, ws, ev.slug, ev)

    def _on_control(self, ev: ControlChange) -> None:
        try:
            self.controls = self.controls.with_value(ev.key, ev.value)
        except InvalidControl as exc:
            # Fail closed: an unreadable control stops new entries (DESIGN §1.3).
            self.trip(f"invalid control: {exc}", {"key": ev.key, "value": ev.value})
            return
        self._refresh_trading_state()

    def _on_balance(self, ev: BalanceReport) -> None:
        self.venue_balance = (ev.ts, ev.usd)
        if self.cash is None and not any(True for _ in self.orders):
            # LIVE learns its starting balance from the venue, before its first order; from
            # then on our own ledger is the expected balance (checklist item 8, assertion 5).
            self.cash = self.initial_cash = ev.usd
            self.records.append(BalanceRecord(ev.ts, self.mode, self.run_id, "expected", ev.usd))
        self.records.append(BalanceRecord(ev.ts, self.mode, self.run_id, "venue", ev.usd))

    def _on_venue_positions(self, ev: VenuePositions) -> None:
        self.venue_positions = (ev.ts, dict(ev.positions))

    # ------------------------------------------------------------------ timers

    def _schedule(self, due: int, kind: str, key: Any) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (due, self._timer_seq, kind, key))

    def _fire_timers(self) -> None:
        while self._timers and self._timers[0][0] <= self.now:
            _, _, kind, key = heapq.heappop(self._timers)
            if kind == "strategy":
                slug, strategy = key
                self.entries.evaluate(strategy, self.market.windows.get(slug), slug, None)
                if strategy.timing.repeat:
                    self._repeat.setdefault(slug, []).append(strategy)
            elif kind == "open":
                self.market.windows[key].advance(OPEN)
            elif kind == "close":
                self._on_close(key)
            elif kind == "ours":
                self._compute_ours(self.market.windows[key])

    def _evaluate_repeat(self, slug: str) -> None:
        ws = self.market.windows[slug]
        for strategy in list(self._repeat[slug]):
            if self.entries.evaluate(strategy, ws, slug, None):
                self._repeat[slug].remove(strategy)

    def _on_close(self, slug: str) -> None:
        """Window closed: stop repeat strategies; positions still held go to settlement."""
        self._repeat.pop(slug, None)
        ws = self.market.windows[slug]
        ws.advance(CLOSE)
        for pos in list(self.positions.open_positions()):
            if pos.window_slug == slug and pos.state in (PositionState.MONITORING,):
                self.positions.expire(pos.position_id, self.now)

    def _compute_ours(self, ws: WindowState) -> None:
        if ws.ours is None:
            ws.ours = resolve_ours(ws.window, self.market.tapes.get(ws.window.asset))

    def _expire_unconfirmed(self) -> None:
        if min(self.orders.deadlines.values()) > self.now:
            return
        for order in self.orders.expire_unconfirmed(self.now):
            self._commands.append(
                AlertCommand("order_unknown", "critical", f"order {order.client_order_id} UNKNOWN")
            )

    # ------------------------------------------------------------------ orders and fills

    def dispatch(self, order: Order) -> Order:
        """Send an order: payload and book snapshot stored, SUBMITTED, then executed in-process
        (simulated modes) or handed to the runner as a PlaceOrder command (LIVE)."""
        ws = self.market.windows[order.window_slug]
        book = self.market.books.get(order.token_id)
        payload = build_payload(order, ws.window)
        snapshot = book.snapshot() if book is not None else None
        order = self.orders.submit(replace(order, payload=payload, book_snapshot=snapshot))
        self._commands.append(PlaceOrder(order, payload))
        if self.executor is not None:
            for result in self.executor.execute(order, book, ws.window, self.now):
                self._apply_venue_result(result)
        return order

    def _apply_venue_result(self, ev: Any) -> None:
        known = self.orders.get(ev.client_order_id)
        if isinstance(ev, OrderUnknown) and known is not None and known.state is OrderState.UNKNOWN:
            return  # our own deadline said so first (and alerted): nothing new, not a transition
        order = self.orders.apply(ev)
        if order is None:
            return  # exact duplicate: idempotent
        if isinstance(ev, OrderFill):
            self.book_changed_ts = self.now
            self._on_fill(order, ev)
        if isinstance(ev, OrderUnknown) and order.state is OrderState.UNKNOWN:
            # The venue adapter gave up before our own deadline: alert all the same.
            message = f"order {order.client_order_id} UNKNOWN: {ev.reason}"
            self._commands.append(AlertCommand("order_unknown", "critical", message))
        if order.state in TERMINAL_ORDER_STATES:
            self._on_order_final(order)

    def _on_fill(self, order: Order, ev: OrderFill) -> None:
        fill = self.entries.fill_record(ev)
        self.records.append(fill)
        value = ev.shares * ev.price
        buy = order.side is OrderSide.BUY
        if self.cash is not None:
            self.cash += -value - ev.fee if buy else value - ev.fee
        pid = order.position_id or ""
        if order.purpose is OrderPurpose.ENTRY:
            ws = self.market.windows[order.window_slug]
            risk = self.entries.risk_of(order.client_order_id)
            self.positions.on_entry_fill(pid, order, fill, ws.window, risk)
        else:
            self.positions.on_exit_fill(pid, fill)

    def _on_order_final(self, order: Order) -> None:
        pid = order.position_id
        if pid is None or pid not in self.positions.positions:
            return
        if order.purpose is OrderPurpose.ENTRY:
            self.positions.on_entry_done(pid, self.now)
            self.exits.check([pid])
        else:
            if order.filled_shares < DUST_SHARES:  # refused or killed: no resend storm
                self.exits.refused(pid)
            pos = self.positions.on_exit_done(pid, self.now)
            if pos.state is PositionState.CLOSED:
                self._on_position_closed()

    # ------------------------------------------------------------------ settlement and state

    def _on_resolved(self, ev: Resolved) -> None:
        self.book_changed_ts = self.now
        ws = self.market.windows.get(ev.slug)
        if ws is None:
            self._commands.append(AlertCommand("settlement", "warning", f"unknown {ev.slug}"))
            return
        if ws.winner is not None:
            if ws.winner is not ev.winner:
                self.trip("contradicting venue resolutions", {"slug": ev.slug})
            return
        self._compute_ours(ws)
        ws.winner = ev.winner
        ws.advance(RESOLVE)
        self.records.append(self.entries.settlement_record(ws, ev))
        if self.executor is not None:
            self.executor.on_resolved(ws.window, ev.winner)
        settled = False
        for pos in list(self.positions.open_positions()):
            if pos.window_slug != ev.slug:
                continue
            if pos.state in (PositionState.ENTRY, PositionState.MONITORING):
                pos = self.positions.expire(pos.position_id, ev.ts)
            pos = self.positions.settle(pos.position_id, ev.winner, ev.ts)
            if self.cash is not None:
                self.cash += pos.shares if pos.outcome is ev.winner else ZERO
            settled = True
        if settled:
            self._record_balances(ev.ts)
            self._on_position_closed()
        if agreement(ws.ours.resolution, ev.winner) is Agreement.DISAGREE:
            detail = {"ours": str(ws.ours.resolution), "venue": str(ev.winner)}
            name = "settlement_agrees_with_venue"
            self.records.append(
                AssertionRecord(self.now, name, False, detail, self.mode, self.run_id, ev.slug)
            )
            self.trip(f"assertion failed: {name}", {"slug": ev.slug, **detail})
        if settled:
            self.run_assertions(ev.slug)

    def _record_balances(self, ts: int) -> None:
        if self.cash is not None:
            self.records.append(BalanceRecord(ts, self.mode, self.run_id, "expected", self.cash))
        if self.executor is not None:
            cash = self.executor.cash
            self.records.append(BalanceRecord(ts, self.mode, self.run_id, "engine", cash))

    def _on_position_closed(self) -> None:
        if self.trading_state in (TradingState.FLATTENING, TradingState.EMERGENCY):
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
                self._commands.append(
                    CancelOrder(order.client_order_id, order.venue_order_id, "EMERGENCY")
                )
        if self.trading_state in (TradingState.FLATTENING, TradingState.EMERGENCY):
            self.exits.check([p.position_id for p in self.positions.open_positions()])
            self._refresh_trading_state()


def _default_executor(config: EngineConfig) -> SimExecutor | None:
    cash = config.balance_usd if config.balance_usd is not None else ZERO
    if config.mode is Mode.LIVE:
        return None
    if config.mode is Mode.DRY_RUN:
        return DryRunExecutor(cash)
    return PaperExecutor(cash)


def _ignore(event: Any) -> None:
    return None


__all__ = ["Engine", "EngineConfig", "Command"]
