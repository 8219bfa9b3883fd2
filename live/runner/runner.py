"""The shared live runner (DESIGN §6): an asyncio shell around the engine that adds IO and
safety, never trading logic. One event queue feeds the engine(s); commands go to the venue
through the gateway; records go to PostgreSQL; the tick loop enforces the lock, the controls,
feed freshness, the health endpoint and the assertions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from live.kernel.commands import Alert as AlertCommand
from live.kernel.controls import Controls, KillSwitch
from live.kernel.domain import Mode, TradingState
from live.kernel.engine import Engine, EngineConfig
from live.kernel.events import BalanceReport, Timer, VenuePositions
from live.kernel.executors import DryRunExecutor, PaperExecutor
from live.kernel.records import SettlementRecord
from live.runner import instances
from live.runner.config import RunnerConfig
from live.runner.controls_watch import ControlsWatcher
from live.runner.feeds import FeedSupervisor
from live.runner.gateway import OrderGateway
from live.runner.guards import Guards
from live.runner.health import HealthServer
from live.runner.lock import SoleTraderLock
from live.runner.persist import EnginePersistence
from live.runner.recorder import Recorder, engine_input
from live.runner.startup import reconcile_at_start
from live.runner.status import health_status
from live.runner.watchdog import FeedWatchdog
from live.runner.windows import WindowTracker
from live.store import migrate
from live.store.db import make_pool
from strategies import resolve

log = logging.getLogger(__name__)


class HealthUnavailable(RuntimeError):
    """The health endpoint could not be served: the runner refuses to trade (FM24)."""


@dataclass
class EngineSlot:
    """One engine, its persistence, and whether it receives the venue's order answers."""

    name: str
    engine: Engine
    persist: EnginePersistence
    venue_orders: bool
    last_assertions: dict[str, bool] = field(default_factory=dict)


class Runner:
    """Build with a config, the database URL and a connected-on-start venue adapter."""

    def __init__(self, config: RunnerConfig, db_url: str, venue: Any, alerter: Any = None):
        self.config = config
        self.db_url = db_url
        self.venue = venue
        self.alerter = alerter
        self.queue: asyncio.Queue = asyncio.Queue()
        self.stopping = asyncio.Event()
        self.clock_offset_ms = 0
        self.started = time.monotonic()
        self.slots: list[EngineSlot] = []
        self.reconciliation: dict[str, Any] = {"ok": None}
        self.events_processed = 0
        self.journalled: EngineSlot | None = None  # the simulated engine whose inputs we journal
        self.journal_seq = 0
        self.max_tick_ms = 0
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------------ time

    def now_ms(self) -> int:
        """Venue time: our wall clock corrected by the measured offset (FM2)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    @property
    def primary(self) -> EngineSlot:
        return self.slots[0]

    @property
    def is_trader(self) -> bool:
        return self.lock.held and not self.guards.observer_reasons

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
        migrate.migrate(self.db_url)
        self.pool = make_pool(self.db_url, min_size=2, max_size=8)
        self.guards = Guards(self)
        self.lock = SoleTraderLock(self.db_url, cfg.instance_id)
        self.lock.acquire()
        self.health = HealthServer(lambda: health_status(self), cfg.health_host, cfg.health_port)
        await self.health.start()
        if not await self.health.self_check():
            raise HealthUnavailable(f"health endpoint {self.health.url} does not answer")
        self.controls = ControlsWatcher(self.db_url, self.pool, time.monotonic)
        await self.controls.start()
        await self.venue.connect()
        self.clock_offset_ms = await self.venue.clock_offset_ms()
        self._build_engines()
        if not self.lock.held:  # after the engines exist, so observe() trips them too
            self.guards.observe("another instance holds the sole-trader lock")
        instances.register(
            self.pool, cfg.instance_id, self._role(), str(cfg.mode), cfg.venue, self.health.url
        )
        if self.primary.engine.mode is Mode.LIVE and self.lock.held:
            await reconcile_at_start(self)
        self._start_tasks()
        # A NOTIFY'd control reaches the engines at once, not at the next tick (≤ 200 ms target).
        self.controls.on_change = self.guards.apply_controls
        log.info(
            "runner %s started: role=%s mode=%s venue=%s health=%s",
            cfg.instance_id,
            self._role(),
            cfg.mode,
            cfg.venue,
            self.health.url,
        )

    def _build_engines(self) -> None:
        cfg = self.config
        strategies = resolve(list(cfg.strategies))
        controls = self.controls.current()
        mode = cfg.mode.engine_mode
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.slots.append(
            self._slot("primary", mode, strategies, controls, stamp, venue_orders=mode is Mode.LIVE)
        )
        for copy in cfg.copies:
            self.slots.append(
                self._slot(
                    f"{copy}-copy",
                    copy.engine_mode,
                    strategies,
                    controls,
                    stamp,
                    venue_orders=False,
                )
            )
        # Signal replay (research.parity) re-runs a simulated engine on exactly what it saw.
        simulated = [s for s in self.slots if s.engine.mode is not Mode.LIVE]
        self.journalled = simulated[0] if simulated else None

    def _slot(self, name, mode, strategies, controls, stamp, venue_orders) -> EngineSlot:
        run_id = f"{self.config.instance_id}-{name}-{stamp}"
        simulated = mode is not Mode.LIVE
        if name != "primary":
            controls = shadow_controls(controls, mode)
        engine = Engine(
            EngineConfig(
                mode=mode,
                strategies=strategies,
                run_id=run_id,
                controls=controls,
                balance_usd=self.config.paper_balance_usd if simulated else None,
                promoted=self.guards.promoted,
                executor=_executor(mode, self.config.paper_balance_usd),
                signal_id_prefix="" if name == "primary" else f"{mode}:",
            )
        )
        names = ",".join(s.name for s in strategies)
        persist = EnginePersistence(self.db_url, run_id, mode, names, list(self.config.assets))
        return EngineSlot(name, engine, persist, venue_orders)

    def _start_tasks(self) -> None:
        cfg = self.config
        self.watchdog = FeedWatchdog(
            time.monotonic, self.guards.gap_opened, self.guards.gap_closed, cfg.feed_idle_s
        )
        self.recorder = Recorder(self.pool)
        if self.journalled is not None:
            engine = self.journalled.engine
            self.recorder.add(engine_input(engine.run_id, 0, engine.config.controls, self.now_ms()))
        instruments = [(a, n) for a in cfg.assets for n in cfg.window_lengths_s]
        poll_s = min(cfg.resolution_poll_s, min(cfg.window_lengths_s) / 4)
        self.windows = WindowTracker(
            self.venue, cfg.venue, self.emit, self.pool, instruments, self.now_ms, poll_s
        )
        self.feeds = FeedSupervisor(
            self.venue,
            self.emit,
            self.watchdog,
            self.recorder,
            cfg.assets,
            self.windows.token_asset.get,
            self.windows.tokens,
        )
        self.gateway = OrderGateway(self.venue, self.emit, self.now_ms, lambda: self.is_trader)
        jobs = {
            "consume": self._consume(),
            "tick": self._tick_loop(),
            "windows": self.windows.run(),
            "market-feed": self.feeds.run_market(),
            "price-feed": self.feeds.run_prices(),
            "slow": self._slow_loop(),
        }
        if self.primary.venue_orders:
            jobs["user-feed"] = self.feeds.run_user()
            jobs["heartbeats"] = self.venue.run_heartbeats(on_failure=self.guards.heartbeat_failed)
            jobs["account"] = self._account_loop()
        self._tasks = [asyncio.create_task(job, name=name) for name, job in jobs.items()]
        for task in self._tasks:
            task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or self.stopping.is_set():
            return
        exc = task.exception()
        log.error("runner task %s ended unexpectedly: %r", task.get_name(), exc)
        for slot in self.slots:
            slot.engine.trip(f"runner task {task.get_name()} died: {exc!r}")
        self.stopping.set()

    async def _until_stopped(self) -> None:
        timeout = self.config.duration_s
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout)

    def request_stop(self) -> None:
        self.stopping.set()

    async def shutdown(self) -> None:
        """No orphaned orders: cancel resting orders, let in-flight ones finish, flush, release."""
        self.stopping.set()
        if hasattr(self, "gateway"):
            await self.gateway.drain()
            with contextlib.suppress(Exception):
                await self.gateway.cancel_all()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._drain_queue()
        for slot in self.slots:
            with contextlib.suppress(Exception):
                await slot.persist.close(self._summary(slot))
        if hasattr(self, "recorder"):
            self.recorder.flush(self.now_ms())
        with contextlib.suppress(Exception):
            instances.mark_stopped(self.pool, self.config.instance_id)
        for closer in (self.controls.stop, self.health.stop, self.venue.close):
            with contextlib.suppress(Exception):
                await closer()
        self.lock.release()
        self.pool.close()

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
            event, (BalanceReport, VenuePositions)
        )
        for slot in self.slots:
            if venue_answer and not slot.venue_orders:
                continue
            self.dispatch_to(slot, event)

    def dispatch_to(self, slot: EngineSlot, event: Any) -> None:
        """One event into one engine; its records persisted, its commands executed."""
        if slot is self.journalled and hasattr(self, "recorder"):
            self.journal_seq += 1
            self.recorder.add(
                engine_input(slot.engine.run_id, self.journal_seq, event, self.now_ms())
            )
        commands = slot.engine.process(event)
        records = slot.engine.take_records()
        slot.persist.add(records)
        self._after_records(slot, records)
        for command in commands:
            self._handle_command(slot, command)

    def _handle_command(self, slot: EngineSlot, command: Any) -> None:
        if isinstance(command, AlertCommand):
            self.guards.engine_alert(slot, command)
        elif slot.venue_orders:
            self.gateway.submit(command)

    def _after_records(self, slot: EngineSlot, records: list[Any]) -> None:
        for record in records:
            if isinstance(record, SettlementRecord):
                self.guards.settled(slot, record)

    # ------------------------------------------------------------------ loops

    async def _tick_loop(self) -> None:
        """Every tick: time moves (timers, UNKNOWN deadlines, strategy timing), controls, lock,
        feed freshness; records and market data are flushed."""
        period = self.config.tick_ms / 1000
        while True:
            began = time.monotonic()
            self.guards.check_lock()
            self.guards.apply_controls(self.controls.current())
            self.guards.check_feeds()
            self._dispatch(Timer(self.now_ms()))
            for slot in self.slots:
                await slot.persist.flush()
            if self.recorder.pending():
                await asyncio.to_thread(self.recorder.flush, self.now_ms())
            took = int((time.monotonic() - began) * 1000)
            self.max_tick_ms = max(self.max_tick_ms, took)
            for slot in self.slots:
                slot.engine.report_tick_duration(max(took, 1))
            await asyncio.sleep(max(0.0, period - (time.monotonic() - began)))

    async def _slow_loop(self) -> None:
        """Every ~2 s: health self-check, assertions, instance heartbeat, clock offset, windows."""
        beat = 0
        while True:
            await asyncio.sleep(2.0)
            beat += 1
            if not await self.health.self_check():
                self.guards.health_failed()
            for slot in self.slots:
                self.guards.run_assertions(slot)
            await self.feeds.subscribe_new_tokens()
            await asyncio.to_thread(self.windows.update_statuses)
            await asyncio.to_thread(
                instances.heartbeat,
                self.pool,
                self.config.instance_id,
                self._role(),
                health_status(self),
            )
            if beat % 15 == 0:
                with contextlib.suppress(Exception):
                    self.clock_offset_ms = await self.venue.clock_offset_ms()

    async def _account_loop(self) -> None:
        """LIVE: the venue's balance and positions, the evidence for assertions 4 and 5. A report
        is stamped with the time its query began, and only sent when it describes one instant:
        no order of ours in flight and no window of ours settling at the venue while it ran
        (the engine ignores reports older than its last fill or settlement)."""
        while True:
            try:
                began, quiet = self.now_ms(), self.account_quiet()
                usd = await self.venue.balance()
                held = await self.venue.positions()
                if quiet is not None and quiet == self.account_quiet():
                    self.emit(BalanceReport(began, Decimal(usd)))
                    self.emit(VenuePositions(began, tuple(sorted(held.items()))))
            except Exception as exc:  # noqa: BLE001 - a failed query is not "flat": no report
                log.warning("account query failed: %s", exc)
            await asyncio.sleep(self.config.balance_poll_s)

    def account_quiet(self) -> int | None:
        """None while the venue's view of us is moving (an order in flight, or a window we hold
        closed but not yet resolved for us); else a token that changes when an order starts."""
        if self.gateway.in_flight:
            return None
        now, tracker = self.now_ms(), self.windows
        for position in self.primary.engine.positions:
            slug = position.window_slug
            window = tracker.windows.get(slug)
            if window is not None and window.close_ts <= now and slug not in tracker.resolved:
                return None
        return self.gateway.placements

    # ------------------------------------------------------------------ views

    def _role(self) -> str:
        return "trader" if self.is_trader else "observer"

    def kill_switch_settled(self, controls: Controls) -> bool:
        """A flatten/emergency has finished: nothing open, nothing working."""
        if controls.kill_switch not in (KillSwitch.FLATTEN, KillSwitch.EMERGENCY):
            return False
        engine = self.primary.engine
        return not any(True for _ in engine.positions.open_positions()) and not any(
            True for _ in engine.orders.working()
        )

    def _summary(self, slot: EngineSlot) -> dict[str, Any]:
        engine = slot.engine
        closed = [p for p in engine.positions if p.pnl_net is not None]
        return {
            "events": self.events_processed,
            "positions": len(list(engine.positions)),
            "closed": len(closed),
            "pnl_net": str(sum((p.pnl_net for p in closed), start=Decimal(0))),
            "trading_state": str(engine.trading_state),
            "max_tick_ms": self.max_tick_ms,
        }


def shadow_controls(controls: Controls, mode: Mode) -> Controls:
    """A copy engine follows every control except trading_mode, which is its own mode: the
    control chooses how the primary trades; the copies shadow it in their simulated modes."""
    return controls.with_value("trading_mode", str(mode))


def _executor(mode: Mode, balance: Decimal) -> Any:
    """Simulated modes get their own executor (and ledger); LIVE answers come from the venue."""
    if mode is Mode.PAPER:
        return PaperExecutor(balance)
    if mode is Mode.DRY_RUN:
        return DryRunExecutor(balance)
    return None


def repo_root(config: RunnerConfig) -> Path:
    return Path(config.repo_root).resolve()


__all__ = ["HealthUnavailable", "Runner", "TradingState"]
