"""The shared live runner (DESIGN §6): an asyncio shell around the engine that adds IO and
safety, never trading logic. One event queue feeds the engine(s); commands go to the venue
through the gateway; records go to PostgreSQL; the tick loop enforces the lock, the controls,
feed freshness, the health endpoint and the assertions. The safety rules are parts that get what
they need: the trader role (role.py), the strategy gate (strategy_gate.py), the feed guard
(feed_guard.py), the control applier (controls_apply.py), the alarms (alarms.py), the account
watch (account_watch.py) and startup reconciliation (reconciliation.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from live.kernel import records as kr
from live.kernel.adoption import AdoptionError
from live.kernel.commands import Alert as AlertCommand
from live.kernel.domain import Fill, Mode, Order, Position, TradingState
from live.kernel.events import BalanceReport, FillSettled, Redeemed, Timer, VenuePositions
from live.kernel.records import SettlementRecord
from live.runner import instances, takeover
from live.runner.account_watch import AccountWatch
from live.runner.adoption import adopt_owned
from live.runner.adoption_sim import adopt_copies
from live.runner.alarms import Alarms, AlertSink
from live.runner.breaker_memory import carry_trips
from live.runner.clock import ClockWatch, venue_sampler
from live.runner.config import Redemption, RunnerConfig
from live.runner.controls_apply import ControlApplier
from live.runner.controls_watch import ControlsWatcher
from live.runner.feed_guard import FeedGuard
from live.runner.feeds import FeedSupervisor
from live.runner.gateway import OrderGateway
from live.runner.guarded import Guarded
from live.runner.health import HealthServer
from live.runner.lock import SoleTraderLock
from live.runner.reconciliation import reconcile_at_start
from live.runner.recorder import Recorder, engine_input
from live.runner.redemption import RedemptionDesk
from live.runner.role import LOCK_HELD_ELSEWHERE, TraderRole
from live.runner.settling import SettlementFollower
from live.runner.slots import EngineSlot, build_slots, run_summary, trip
from live.runner.status import health_status
from live.runner.store_guard import StoreGuard
from live.runner.strategy_gate import StrategyGate
from live.runner.venue_watch import VenueWatch
from live.runner.windows import WindowTracker
from live.store import migrate
from live.store.adoption import record_stop
from live.store.db import make_pool
from live.venues.port import Venue
from strategies import resolve

log = logging.getLogger(__name__)
IO_THREADS = 16  # the worker threads of database and other blocking calls (see start())
# What a trader that lost the lock no longer writes: the rows the new trader adopted.
HANDED_OVER = (
    Order,
    Position,
    Fill,  # a fill row without its position's would make the new trader skip the trade
    kr.OrderEventRecord,
    kr.PositionEventRecord,
    kr.SettlementRecord,
    kr.RedemptionRecord,  # its row references the position's, which the new trader owns
)


class HealthUnavailable(RuntimeError):
    """The health endpoint could not be served: the runner refuses to trade (FM24)."""


class Runner:
    """Build with a config, the database URL and a venue (connected at start). The parts are
    None until `start()` builds them, in the order docs/runner.md lists."""

    def __init__(
        self, config: RunnerConfig, db_url: str, venue: Venue, alerter: AlertSink | None = None
    ):
        self.config = config
        self.db_url = db_url
        self.venue = venue
        self.alerter = alerter
        self.queue: asyncio.Queue = asyncio.Queue()
        self.stopping = asyncio.Event()
        self.clock_offset_ms = 0
        self.clock = ClockWatch(venue_sampler(venue), self._set_offset)
        self.started = time.monotonic()
        self.slots: list[EngineSlot] = []
        self.reconciliation: dict[str, Any] = {"ok": None}
        self.events_processed = 0
        self.journalled: EngineSlot | None = None  # the simulated engine whose inputs we journal
        self.journal_seq = 0
        self.max_tick_ms = 0
        self.pool: ConnectionPool | None = None
        self.alarms: Alarms | None = None
        self.gate: StrategyGate | None = None
        self.lock: SoleTraderLock | None = None
        self.role: TraderRole | None = None
        self.health: HealthServer | None = None
        self.controls: ControlsWatcher | None = None
        self.feed_guard: FeedGuard | None = None
        self.recorder: Recorder | None = None
        self.windows: WindowTracker | None = None
        self.feeds: FeedSupervisor | None = None
        self.gateway: OrderGateway | None = None
        self.account: AccountWatch | None = None
        self.redemption: RedemptionDesk | None = None
        self.applier: ControlApplier | None = None
        self.lock_watch: takeover.LockWatch | None = None
        self.store_guard: StoreGuard | None = None
        self.adoption: dict[str, Any] = {}
        self.adoption_copies: dict[str, dict[str, Any]] = {}  # slot name -> its adoption
        self.carried_trips: dict[str, str] = {}  # slot name -> the sticky trip it started with
        self.stop_reason = "stopped"
        self.guarded = Guarded()  # failed shutdown steps and clock re-measures, counted
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------------ time

    def _set_offset(self, measured) -> None:
        self.clock_offset_ms = measured.offset_ms

    def now_ms(self) -> int:
        """Venue time: our wall clock corrected by the measured offset (FM2)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    @property
    def primary(self) -> EngineSlot:
        return self.slots[0]

    @property
    def is_trader(self) -> bool:
        return self.role is not None and self.role.is_trader

    def emit(self, event: Any) -> None:
        self.queue.put_nowait(event)

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        """Start, trade until stopped (signal or --duration), shut down cleanly."""
        await self.start()
        try:
            await self._until_stopped()
        finally:
            await self.shutdown()
        return 0

    async def start(self) -> None:
        cfg = self.config
        # Database calls run in worker threads; during an outage many of them wait for a
        # connection at once (pool, lock, alerts, heartbeats), so the default six would queue
        # the rest behind them.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="updown-io")
        )
        # No synchronous database call on the event loop, even at start (issue 15).
        await asyncio.to_thread(migrate.migrate, self.db_url)
        self.pool = pool = await asyncio.to_thread(make_pool, self.db_url, min_size=2, max_size=8)
        self.alarms = Alarms(self.alerter)
        root = Path(cfg.repo_root).resolve()
        stand_ins = cfg.window_lengths_s if cfg.venue == "sandbox" else ()  # short test windows
        self.gate = StrategyGate(pool, root, cfg.promotion_targets, self.alarms.raise_, stand_ins)
        self.venue_watch = VenueWatch(self.venue, self.alarms.raise_)  # issue 14 (O2, O5)
        self.lock = lock = SoleTraderLock(self.db_url, cfg.instance_id)
        await asyncio.to_thread(lock.acquire)  # no synchronous database call on the loop
        self.role = TraderRole(lock, self.slots, self.alarms.raise_, cfg.instance_id)
        self.health = HealthServer(lambda: health_status(self), cfg.health_host, cfg.health_port)
        await self.health.start()
        if not await self.health.self_check():
            raise HealthUnavailable(f"health endpoint {self.health.url} does not answer")
        self.controls = ControlsWatcher(self.db_url, pool, time.monotonic)
        await self.controls.start()
        await self.venue.connect()
        await self.clock.first()
        await asyncio.to_thread(self._build_engines)  # each engine's sink connects
        if self.primary.engine.mode is Mode.LIVE:  # the first ticks answer from a filled cache
            names = [s.name for s in self.primary.engine.config.strategies]
            await asyncio.to_thread(self.gate.prefetch, names)
        self.carried_trips = await carry_trips(self)  # sticky trips of earlier runs (issue 15)
        if not lock.held:  # after the engines exist, so observe() trips them too
            self.role.observe(LOCK_HELD_ELSEWHERE)
        await asyncio.to_thread(
            instances.register,
            pool,
            cfg.instance_id,
            self.role.name,
            str(cfg.mode),
            cfg.venue,
            self.health.url,
        )
        # The gateway exists before adoption: answers to adopted orders may call for exits.
        self.gateway = OrderGateway(
            self.venue,
            self.emit,
            self.now_ms,
            lambda: self.is_trader,
            verify=lambda: takeover.verify(self),
            journal=self._journal_before_send,
        )
        self.gateway.settling = SettlementFollower(
            self.venue, self.emit, self.now_ms, self.alarms.raise_, cfg.settle_bound_s
        )
        if lock.held:
            await self.adopt_and_reconcile()
        self._start_tasks()
        # A NOTIFY'd control reaches the engines at once, not at the next tick (≤ 200 ms target).
        self.controls.on_change = self.applier.apply
        log.info(
            "runner %s started: role=%s mode=%s venue=%s health=%s",
            cfg.instance_id,
            self.role.name,
            cfg.mode,
            cfg.venue,
            self.health.url,
        )

    def _build_engines(self) -> None:
        strategies = resolve(list(self.config.strategies))
        controls = self.controls.current()
        self.slots += build_slots(
            self.config, self.db_url, strategies, controls, self.gate.promoted, self.gate.prereg
        )
        for slot in self.slots:
            if slot.venue_orders:
                ledger = slot.engine.ledger
                ledger.by_redemption = self.config.redemption is not Redemption.AT_RESOLUTION
                ledger.redeem_bound_ms = int(self.config.redeem_bound_s * 1000)
                ledger.data_lag_ms = int(self.config.data_lag_s * 1000)
                slot.engine.orders.settle_bound_ms = int(self.config.settle_bound_s * 1000)
        # Signal replay (research.parity) re-runs a simulated engine on exactly what it saw.
        simulated = [s for s in self.slots if s.engine.mode is not Mode.LIVE]
        self.journalled = simulated[0] if simulated else None

    async def adopt_and_reconcile(self) -> None:
        """A LIVE trader, before it may order (at start, on takeover): adopt what earlier runs
        owned (live/runner/adoption.py), then the startup reconciliation with the venue. The
        simulated engines (PAPER/DRY_RUN copies) adopt their own mode's rows first
        (live/runner/adoption_sim.py)."""
        self.adoption_copies = await adopt_copies(self)
        if self.primary.engine.mode is not Mode.LIVE:
            return
        try:
            adopted = await adopt_owned(
                self.venue,
                self.pool,
                self.primary,
                self.dispatch_to,
                self.now_ms(),
                self.config.instance_id,
            )
        except (AdoptionError, psycopg.Error) as exc:
            # Nothing adopted: the runner must not trade blind to what it may own.
            reason = f"adoption failed: {type(exc).__name__}: {exc}"
            self.adoption = {"error": reason}
            self.role.observe(reason)
            self.alarms.raise_(
                "reconciliation_mismatch",
                self.config.instance_id,
                reason,
                "breaker tripped; staying observer until resolved",
            )
            return
        self.adoption = {**adopted.summary, "excluded": adopted.excluded, "error": adopted.error}
        for execution in adopted.settling:  # adopted fills still settling: followed to the end
            self.gateway.follow_settlement(execution)
        await self._reconcile()

    async def _reconcile_again(self) -> bool:
        """After a store outage: the LIVE trader compares the venue with the database again."""
        if self.primary.engine.mode is not Mode.LIVE or not self.is_trader:
            return True
        await asyncio.to_thread(self.pool.check)  # drop the pool's connections the outage killed
        await self._reconcile()
        return bool(self.reconciliation.get("ok"))

    async def _journal_before_send(self) -> bool:
        """The primary's pending records (the order about to be sent among them) written now:
        a crash after the send never leaves a venue order the database does not know."""
        persist = self.primary.persist
        await persist.flush()
        return not persist.failing

    def _settling_tokens(self) -> frozenset[str]:
        """Tokens of windows closed in the last minute: the venue may still be paying them."""
        now = self.now_ms()
        return frozenset(
            token
            for ws in self.primary.engine.market.windows.values()
            if now - 60_000 <= ws.window.close_ts <= now
            for token in (ws.window.token_up, ws.window.token_down)
        )

    def _lagging_tokens(self) -> frozenset[str]:
        """Tokens the venue's positions may not show yet: a fill of ours still settling, or an
        order filled within the Data API's lag (`data_lag_s`, plus a second of slack)."""
        engine = self.primary.engine
        since = self.now_ms() - int(self.config.data_lag_s * 1000) - 1000
        tokens = {
            o.token_id for o in engine.orders if o.filled_shares > 0 and o.updated_ts >= since
        }
        tokens |= {p.token_id for p in engine.positions.open_positions() if p.updated_ts >= since}
        for fill in engine.orders.unsettled.values():
            order = engine.orders.get(fill.client_order_id)
            if order is not None:
                tokens.add(order.token_id)
        return frozenset(tokens)

    def watch_adopted(self) -> None:
        """The windows of what the engines own: followed to their resolution (issue 15)."""
        if self.windows is None:
            return
        for slot in self.slots:
            engine = slot.engine
            slugs = {p.window_slug for p in engine.positions.open_positions()}
            slugs |= {o.window_slug for o in engine.orders.working()}
            for slug in sorted(slugs):
                self.windows.watch(engine.market.windows[slug].window)

    async def _reconcile(self) -> None:
        result = await reconcile_at_start(
            self.venue,
            self.pool,
            mode=str(self.primary.engine.mode),
            instance_id=self.config.instance_id,
            now_ms=self.now_ms(),
            observe=self.role.observe,
            alert=self.alarms.raise_,
            settling=self._settling_tokens,
            retries=10,
            lagging=self._lagging_tokens,
        )
        self.reconciliation = result.health()

    def _start_tasks(self) -> None:
        cfg, pool = self.config, self.pool
        self.feed_guard = FeedGuard(
            pool, cfg.instance_id, cfg.assets, self.slots, self.alarms.raise_, cfg.feed_idle_s
        )
        self.recorder = Recorder(pool)
        if self.journalled is not None:
            engine = self.journalled.engine
            self.recorder.add(engine_input(engine.run_id, 0, engine.config.controls, self.now_ms()))
        instruments = [(a, n) for a in cfg.assets for n in cfg.window_lengths_s]
        poll_s = min(cfg.resolution_poll_s, min(cfg.window_lengths_s) / 4)
        self.windows = WindowTracker(
            self.venue, cfg.venue, self.emit, pool, instruments, self.now_ms, poll_s
        )
        self.watch_adopted()
        self.feeds = FeedSupervisor(
            self.venue,
            self.emit,
            self.feed_guard.watchdog,
            self.recorder,
            cfg.assets,
            self.windows.token_asset.get,
            self.windows.tokens,
            self.windows.on_tick_size,
        )
        self.account = AccountWatch(
            self.venue,
            self.primary.engine,
            self.gateway,
            self.windows,
            self.now_ms,
            self.emit,
            cfg.balance_poll_s,
            active=lambda: self.is_trader,
        )
        self.redemption = RedemptionDesk(
            self.venue,
            self.primary.engine,
            cfg.redemption,
            self.emit,
            self.now_ms,
            self.alarms.raise_,
            retry_s=cfg.redeem_retry_s,
            bound_s=cfg.redeem_bound_s,
        )
        self.applier = ControlApplier(
            self.slots,
            self.dispatch_to,
            self.now_ms,
            pool,
            self.alarms.raise_,
            lambda: self.is_trader,
            self.gateway.cancel_all,
        )
        self.lock_watch = takeover.LockWatch(self)
        self.store_guard = StoreGuard(
            self.slots,
            pool,
            self.alarms.raise_,
            self._reconcile_again,
            self.now_ms,
            cfg.instance_id,
        )
        self._launch()

    def _launch(self) -> None:
        jobs = {
            "consume": self._consume(),
            "tick": self._tick_loop(),
            "windows": self.windows.run(),
            "market-feed": self.feeds.run_market(),
            "price-feed": self.feeds.run_prices(),
            "slow": self._slow_loop(),
            "lock": self.lock_watch.run(),
            "clock": self.clock.run(),
        }
        if self.primary.venue_orders:
            jobs["user-feed"] = self.feeds.run_user()
            jobs["heartbeats"] = self.venue.run_heartbeats(
                on_failure=self.role.heartbeat_failed,
                on_success=lambda: self.role.heartbeat_accepted(self.now_ms()),
            )
            jobs["account"] = self.account.run()
            if self.config.redemption is not Redemption.AT_RESOLUTION:
                jobs["redemption"] = self.redemption.run()
        self._tasks = [asyncio.create_task(job, name=name) for name, job in jobs.items()]
        for task in self._tasks:
            task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or self.stopping.is_set():
            return
        exc = task.exception()
        log.error("runner task %s ended unexpectedly: %r", task.get_name(), exc, exc_info=exc)
        trip(self.slots, f"runner task {task.get_name()} died: {exc!r}")
        self.request_stop(f"runner task {task.get_name()} died: {exc!r}")

    async def _until_stopped(self) -> None:
        timeout = self.config.duration_s
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout)
        except TimeoutError:
            self.request_stop(f"--duration {timeout:g} s elapsed")

    def request_stop(self, reason: str = "stop requested (signal)") -> None:
        if not self.stopping.is_set():
            self.stop_reason = reason
        self.stopping.set()

    async def shutdown(self) -> None:
        """No orphaned orders: cancel resting orders, let in-flight ones finish, flush, release."""
        self.stopping.set()
        step = self.guarded.run
        if self.gateway is not None:
            await self.gateway.drain()
            await step("cancel-all at stop", self.gateway.cancel_all)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._drain_queue()
        await step(
            "recording what the stop left open", lambda: asyncio.to_thread(record_stops, self)
        )
        for slot in self.slots:
            summary = run_summary(slot, self.events_processed, self.max_tick_ms)
            await step(
                f"closing run {slot.engine.run_id}", lambda p=slot.persist, s=summary: p.close(s)
            )
        for part in (self.windows, self.feed_guard, self.applier):  # their off-loop writes
            if part is not None:
                await part.writes.close()
        if self.recorder is not None:
            await self.recorder.idle()
            await step(
                "recorder flush", lambda: asyncio.to_thread(self.recorder.flush, self.now_ms())
            )
        await step(
            "instance stop",
            lambda: asyncio.to_thread(instances.mark_stopped, self.pool, self.config.instance_id),
        )
        for name, closer in (
            ("controls watcher stop", self.controls.stop),
            ("health endpoint stop", self.health.stop),
            ("venue close", self.venue.close),
        ):
            await step(name, closer)
        await asyncio.to_thread(self.lock.release)
        await asyncio.to_thread(self.pool.close)

    # ------------------------------------------------------------------ the event path

    async def _consume(self) -> None:
        while True:
            event = await self.queue.get()
            self._dispatch(event)

    async def _drain_queue(self) -> None:
        while not self.queue.empty():
            self._dispatch(self.queue.get_nowait())

    def _dispatch(self, event: Any) -> None:
        self.events_processed += 1
        venue_answer = type(event).__name__.startswith("Order") or isinstance(
            event, (BalanceReport, VenuePositions, Redeemed, FillSettled)
        )
        # The account's balance and positions are the lock holder's: an observer waiting for
        # the lock owns none of it, and comparing its empty ledger with them failed assertion
        # 5 (a sticky trip) as soon as the trader spent (the db-outage drill: the observer took
        # over and never traded). After a takeover the next report sets its cash.
        foreign = isinstance(event, (BalanceReport, VenuePositions)) and not self._owns_account()
        for slot in self.slots:
            if venue_answer and (not slot.venue_orders or foreign):
                continue
            self.dispatch_to(slot, event)

    def _owns_account(self) -> bool:
        return self.role is None or self.role.lock.held

    def dispatch_to(self, slot: EngineSlot, event: Any) -> None:
        """One event into one engine; its records persisted, its commands executed."""
        if slot is self.journalled and self.recorder is not None:
            self.journal_seq += 1
            self.recorder.add(
                engine_input(slot.engine.run_id, self.journal_seq, event, self.now_ms())
            )
        commands = slot.engine.process(event)
        records = slot.engine.take_records()
        if slot.venue_orders and self.role is not None and self.role.lost_lock:
            # Another instance took the lock and adopted these rows: never overwrite them
            # (nor with records still waiting for the store: the new trader reads the venue).
            records = [r for r in records if not isinstance(r, HANDED_OVER)]
            slot.persist.discard(HANDED_OVER)
        slot.persist.add(records)
        self._after_records(slot, records)
        for command in commands:
            self._handle_command(slot, command)

    def _handle_command(self, slot: EngineSlot, command: Any) -> None:
        if isinstance(command, AlertCommand):
            self.alarms.engine_alert(slot, command)
        elif slot.venue_orders:
            self.gateway.submit(command)

    def _after_records(self, slot: EngineSlot, records: list[Any]) -> None:
        """A settlement of the primary: a fresh venue balance (LIVE), then the kill criteria."""
        for record in records:
            if isinstance(record, SettlementRecord) and slot is self.primary:
                if slot.venue_orders and self.account is not None:
                    self.account.after_settlement()
                self.gate.after_settlement(slot)

    # ------------------------------------------------------------------ loops

    async def _tick_loop(self) -> None:
        """Every tick: time moves (timers, UNKNOWN deadlines, strategy timing), controls, lock,
        feed freshness; records and market data are flushed."""
        period = self.config.tick_ms / 1000
        while True:
            began = time.monotonic()
            # Database reads in worker threads, not waited for: an unreachable store neither
            # freezes the loop nor holds the tick (the reads fail closed on their own).
            self.applier.apply(self.controls.current_nowait())
            if self.primary.engine.mode is Mode.LIVE:
                names = [s.name for s in self.primary.engine.config.strategies]
                self.gate.prefetch_in_background(names)
            self.feed_guard.check(self.feeds.reconnect)
            self._dispatch(Timer(self.now_ms()))
            for slot in self.slots:
                await slot.persist.flush()
            await self.store_guard.check()
            if self.recorder.pending():
                self.recorder.flush_in_background(self.now_ms())  # never waits for the store
            took = int((time.monotonic() - began) * 1000)
            self.max_tick_ms = max(self.max_tick_ms, took)
            for slot in self.slots:
                slot.engine.report_tick_duration(max(took, 1))
            await asyncio.sleep(max(0.0, period - (time.monotonic() - began)))

    async def _slow_loop(self) -> None:
        """Every ~2 s: health self-check, assertions, instance heartbeat, windows (the clock
        offset is measured by its own task, live/runner/clock.py)."""
        while True:
            await asyncio.sleep(2.0)
            if not await self.health.self_check():
                self.role.health_failed(self.health.url)
                if not self.health.serving:
                    await self.health.restart()
            elif self.role.health_down:
                self.role.health_recovered(self.now_ms())
            for slot in self.slots:
                self.alarms.run_assertions(slot)
            self.venue_watch.check()
            await self.feeds.subscribe_new_tokens()
            # The store may be away (issue 15): a failed write is logged and counted, not fatal.
            await self.guarded.run(
                "window statuses", lambda: asyncio.to_thread(self.windows.update_statuses)
            )
            status = health_status(self)
            await self.guarded.run(
                "instance heartbeat",
                lambda status=status: asyncio.to_thread(
                    instances.heartbeat, self.pool, self.config.instance_id, self.role.name, status
                ),
            )


def record_stops(runner: Runner) -> None:
    """At a stop: what each engine left open (positions, working orders) and why, one
    `runner_stops` row per engine with anything open; the next start adopts the LIVE ones.
    Open includes the cash side (issue 13): positions resolved but not yet redeemed (CLOSED,
    `awaiting_redemption` their receivable) and final orders whose fills are still settling."""
    for slot in runner.slots:
        engine = slot.engine
        positions = [
            {
                "position_id": p.position_id,
                "window_slug": p.window_slug,
                "state": str(p.state),
                "shares": str(p.shares),
            }
            for p in engine.positions.open_positions()
        ]
        positions += [
            {
                "position_id": r.position_id,
                "window_slug": r.window_slug,
                "state": "CLOSED",
                "shares": str(r.shares),
                "awaiting_redemption": str(r.expected_usd),
            }
            for r in engine.ledger.receivables
        ]
        orders = [
            {"client_order_id": o.client_order_id, "state": str(o.state)}
            for o in engine.orders.working()
        ]
        working = {o["client_order_id"] for o in orders}
        settling: dict[str, list[str]] = {}
        for fill in engine.orders.unsettled.values():
            settling.setdefault(fill.client_order_id, []).append(fill.fill_id)
        for cid, fill_ids in sorted(settling.items()):
            order = engine.orders.get(cid)
            entry = {"client_order_id": cid, "state": str(order.state) if order else "?"}
            entry["settling_fills"] = sorted(fill_ids)
            if cid in working:
                orders = [entry if o["client_order_id"] == cid else o for o in orders]
            else:
                orders.append(entry)
        if not positions and not orders:
            continue
        with runner.pool.connection() as conn:
            record_stop(
                conn,
                runner.config.instance_id,
                engine.run_id,
                str(engine.mode),
                runner.stop_reason,
                positions,
                orders,
            )


__all__ = ["HealthUnavailable", "Runner", "TradingState"]
