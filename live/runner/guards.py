"""The runner's safety rules at the IO edge. Each failure stops new entries (the engine's breaker;
exits and stops keep working), is recorded and raises an alert; none is ever read as "fine"."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from live.kernel.controls import Controls
from live.kernel.events import ControlChange
from live.kernel.records import SettlementRecord
from live.promotion.kill_criteria import evaluate_kill, load_kill_criterion
from live.promotion.status import disable_strategy, has_valid_promotion, prereg_path
from live.runner.watchdog import FeedState
from live.store import controls as control_store

if TYPE_CHECKING:
    from live.runner.runner import EngineSlot, Runner

log = logging.getLogger(__name__)
PROMOTION_CACHE_S = 1.0
ENGINE_ALERT_KINDS = {
    "breaker": "breaker_tripped",
    "order_unknown": "position_unknown",
    "settlement": "assertion_failed",
    "exit_blocked": "exit_blocked",
}


def _wall(mono: float) -> datetime:
    """A monotonic instant as wall-clock time (for gap rows)."""
    return datetime.fromtimestamp(time.time() - (time.monotonic() - mono), tz=UTC)


class Guards:
    def __init__(self, runner: Runner) -> None:
        self.r = runner
        self.observer_reasons: list[str] = []
        self.applied: Controls | None = None
        self.stale_assets: set[str] = set()
        self.gap_ids: dict[str, int] = {}
        self.health_failures = 0
        self.heartbeat_failures = 0
        self.disabled: dict[str, str] = {}
        self._promotions: dict[str, tuple[float, bool]] = {}
        self._background: set[asyncio.Task] = set()
        self._kill_lock = threading.Lock()

    # ------------------------------------------------------------------ alerts

    def alert(self, kind: str, where: str, happened: str, did: str, **detail: Any) -> None:
        log.warning("ALERT %s at %s: %s — %s", kind, where, happened, did)
        if self.r.alerter is not None:
            self.r.alerter.raise_(kind, where, happened, did, detail=detail)

    def engine_alert(self, slot: EngineSlot, command: Any) -> None:
        kind = ENGINE_ALERT_KINDS.get(command.kind, "assertion_failed")
        self.alert(
            kind,
            f"{slot.name} engine ({slot.engine.mode})",
            command.message,
            "new entries stopped; exits continue"
            if kind == "breaker_tripped"
            else "recorded; see the dashboard",
        )

    def trip_all(self, reason: str) -> None:
        for slot in self.r.slots:
            slot.engine.trip(reason)

    # ------------------------------------------------------------------ sole trader

    def observe(self, reason: str) -> None:
        """Become an observer: never order again in this process (FM21, FM19)."""
        if reason not in self.observer_reasons:
            self.observer_reasons.append(reason)
            for slot in self.r.slots:
                if slot.venue_orders:
                    slot.engine.trip(f"observer: {reason}")

    def check_lock(self) -> None:
        was_held = self.r.lock.held
        status = self.r.lock.check()
        if was_held and not status.held:
            self.observe("sole-trader lock lost")
            self.alert(
                "lock_lost",
                self.r.config.instance_id,
                status.error or "lock lost",
                "stopped ordering at once; this instance is now an observer",
            )

    # ------------------------------------------------------------------ controls

    def apply_controls(self, snapshot: Controls) -> None:
        """Hand changed controls to every engine as `control` events; finish flatten/emergency
        by setting the kill switch to pause once nothing is open or working."""
        old = self.applied.as_mapping() if self.applied else {}
        self.applied = snapshot
        for key, value in snapshot.as_mapping().items():
            if old.get(key) == value:
                continue
            for slot in self.r.slots:
                if key == "trading_mode" and slot is not self.r.primary:
                    continue  # copies keep their own mode (runner.shadow_controls)
                self.r.dispatch_to(slot, ControlChange(self.r.now_ms(), key, value))
            if key == "kill_switch" and value == "emergency":
                self._cancel_everything()
            if key == "kill_switch" and old:
                self.alert(
                    "kill_switch_used",
                    "runtime_controls",
                    f"kill_switch set to {value}",
                    f"engine trading state is now {self.r.primary.engine.trading_state}",
                )
        if self.r.kill_switch_settled(snapshot) and self.r.is_trader:
            with self.r.pool.connection() as conn:
                control_store.write(conn, "kill_switch", "pause", "runner")

    def _cancel_everything(self) -> None:
        """Emergency: cancel every resting order of this wallet at the venue (cancel-all), not
        only the ones the engine knows; the engine cancels its own working orders as well."""
        gateway = getattr(self.r, "gateway", None)
        if gateway is None or not self.r.primary.venue_orders or not self.r.is_trader:
            return

        async def cancel_all() -> None:
            try:
                await gateway.cancel_all()
            except Exception as exc:  # noqa: BLE001 - alert; the engine's own cancels continue
                self.alert(
                    "kill_switch_used",
                    "emergency cancel-all",
                    f"cancel-all failed: {exc}",
                    "engine orders cancelled one by one; check the venue for resting orders",
                )

        self._background.add(task := asyncio.get_running_loop().create_task(cancel_all()))
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ feeds

    def check_feeds(self) -> None:
        for feed in self.r.watchdog.check():
            channel = feed.name.split(":")[0]
            self.r.feeds.reconnect(channel)
            self.alert(
                "feed_stale",
                feed.name,
                f"no data for {self.r.watchdog.idle_gap_s:.0f} s",
                "gap recorded, entries on this asset stopped, reconnecting with a fresh "
                "REST snapshot",
            )
        self.refresh_stale()

    def refresh_stale(self) -> None:
        """Tell the engines which assets have a stale feed (no entries there)."""
        for asset in self.r.config.assets:
            names = [
                n for n in (f"market:{asset}", f"prices:{asset}") if n in self.r.watchdog.feeds
            ]
            stale = not names or not all(self.r.watchdog.is_fresh(n) for n in names)
            if stale != (asset in self.stale_assets):
                (self.stale_assets.add if stale else self.stale_assets.discard)(asset)
                for slot in self.r.slots:
                    slot.engine.set_feed_stale(asset, stale)

    def gap_opened(self, feed: FeedState, start: float) -> None:
        with self.r.pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO feed_gaps (feed, asset, start_ts, reason, instance_id) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (
                    feed.name,
                    feed.asset,
                    _wall(start),
                    f"no data for >= {self.r.watchdog.idle_gap_s:.0f} s while subscribed",
                    self.r.config.instance_id,
                ),
            ).fetchone()
        self.gap_ids[feed.name] = row[0]

    def gap_closed(self, feed: FeedState, end: float) -> None:
        gap_id = self.gap_ids.pop(feed.name, None)
        if gap_id is not None:
            with self.r.pool.connection() as conn:
                conn.execute("UPDATE feed_gaps SET end_ts = %s WHERE id = %s", (_wall(end), gap_id))
        self.refresh_stale()  # data is back: entries resume now, not at the next tick

    # ------------------------------------------------------------------ venue / health

    def heartbeat_failed(self, exc: Exception) -> None:
        self.heartbeat_failures += 1
        reason = f"exchange heartbeat failed: {exc}"
        for slot in self.r.slots:
            if slot.venue_orders:
                slot.engine.trip(reason)
        self.alert(
            "breaker_tripped",
            "venue heartbeats",
            reason,
            "new entries stopped; the venue may cancel resting orders",
        )

    def health_failed(self) -> None:
        self.health_failures += 1
        self.trip_all("health endpoint does not answer")
        self.alert(
            "health_down",
            self.r.health.url,
            "the health endpoint did not answer",
            "new entries stopped until an operator resets the breaker",
        )

    # ------------------------------------------------------------------ promotion / kill

    def promoted(self, strategy: str) -> bool:
        """LIVE needs a valid promotion (paper or live on the sandbox, live on Polymarket);
        cached for 1 s. A DB error counts as not promoted (fail closed)."""
        cached = self._promotions.get(strategy)
        if cached is not None and time.monotonic() - cached[0] < PROMOTION_CACHE_S:
            return cached[1]
        root = Path(self.r.config.repo_root).resolve()
        try:
            with self.r.pool.connection(timeout=2) as conn:
                ok = any(
                    has_valid_promotion(conn, strategy, root, t)
                    for t in self.r.config.promotion_targets
                )
        except Exception as exc:  # noqa: BLE001 - unknown promotion state means no
            log.error("promotion check for %s failed: %s", strategy, exc)
            ok = False
        self._promotions[strategy] = (time.monotonic(), ok)
        return ok

    def settled(self, slot: EngineSlot, record: SettlementRecord) -> None:
        if slot is not self.r.primary:
            return
        if slot.venue_orders:
            self._spawn(self._fresh_balance())
        # This session's settled P&L is taken from the engine now, on the loop: its rows may not
        # be flushed yet, and the settlement that just happened must count (issue 7).
        self._spawn(asyncio.to_thread(self.check_kill, slot, session_pnls(slot)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _fresh_balance(self) -> None:
        """After a settlement, re-read the venue balance so assertion 5 compares fresh data."""
        from live.kernel.events import BalanceReport

        try:
            await self.r.venue.refresh_balance()
            began, quiet = self.r.now_ms(), self.r.account_quiet()
            usd = Decimal(await self.r.venue.balance())
            if quiet is not None and quiet == self.r.account_quiet():  # see Runner.account_quiet
                self.r.emit(BalanceReport(began, usd))
        except Exception as exc:  # noqa: BLE001 - no report is better than a wrong one
            log.warning("balance refresh after settlement failed: %s", exc)

    def check_kill(self, slot: EngineSlot, session: dict[str, list] | None = None) -> None:
        """Evaluate each strategy's pre-registered kill criterion on its settled P&L: earlier
        runs' from the DB, this run's from `session` (see `session_pnls`) when given. One
        evaluation at a time (settlements arrive together), so a hit disables once."""
        with self._kill_lock:
            self._check_kill(slot, session)

    def _check_kill(self, slot: EngineSlot, session: dict[str, list] | None) -> None:
        root = Path(self.r.config.repo_root).resolve()
        run_id = slot.engine.run_id if session is not None else ""
        for strategy in slot.engine.config.strategies:
            if strategy.name in self.disabled:
                continue
            path = next(
                (
                    p
                    for n in (strategy.name, *strategy.aliases)
                    if (p := prereg_path(root, n)).exists()
                ),
                None,
            )
            if path is None:
                continue
            with self.r.pool.connection() as conn:
                pnls = [
                    row[0]
                    for row in conn.execute(
                        "SELECT pnl_net FROM positions WHERE strategy = %s AND mode = %s AND "
                        "pnl_net IS NOT NULL AND run_id IS DISTINCT FROM %s "
                        "ORDER BY closed_ts, position_id",
                        (strategy.name, str(slot.engine.mode), run_id),
                    )
                ]
                pnls += (session or {}).get(strategy.name, [])
                verdict = evaluate_kill(load_kill_criterion(path), pnls)
                if not verdict.hit:
                    continue
                known = [s.name for s in slot.engine.config.strategies]
                disable_strategy(
                    conn,
                    strategy.name,
                    f"kill criterion hit: {verdict.detail}",
                    "runner:kill-criterion",
                    strategy.aliases,
                    known,
                )
            self.disabled[strategy.name] = str(verdict.detail)
            self.alert(
                "kill_criterion_hit",
                strategy.name,
                f"{verdict.kind}: {verdict.detail}",
                "strategy disabled (allowed_strategies updated, promotion revoked)",
            )

    # ------------------------------------------------------------------ assertions

    def run_assertions(self, slot: EngineSlot) -> None:
        engine = slot.engine
        engine.run_assertions()
        records = engine.take_records()
        slot.persist.add(records)
        for record in records:
            name = getattr(record, "name", None)
            if name is not None and hasattr(record, "ok"):
                slot.last_assertions[name] = record.ok
                if not record.ok:
                    self.alert(
                        "assertion_failed",
                        f"{slot.name}:{name}",
                        f"assertion {name} failed: {dict(record.detail)}",
                        "breaker tripped: no new entries, exits continue",
                    )


def session_pnls(slot: EngineSlot) -> dict[str, list[Decimal]]:
    """This engine's settled net P&L per strategy, in closing order (read on the loop)."""
    closed = sorted(
        (p.closed_ts or 0, p.position_id, p.strategy, p.pnl_net)
        for p in slot.engine.positions
        if p.pnl_net is not None
    )
    out: dict[str, list[Decimal]] = {}
    for _, _, strategy, pnl in closed:
        out.setdefault(strategy, []).append(pnl)
    return out
