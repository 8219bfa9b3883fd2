"""The strategy gate at run time (DESIGN §9): a strategy trades LIVE only with a valid promotion
(checked per signal, cached 1 s, a DB error counts as "not promoted"), and after every settlement
of the primary engine its pre-registered kill criterion is evaluated on its settled P&L; a hit
is recorded with its sentence (`kill_criterion_hits`), disables the strategy (allowed_strategies
updated, promotions revoked) in the same transaction and raises `kill_criterion_hit`."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import yaml
from psycopg_pool import ConnectionPool, PoolTimeout

from live.kernel.prereg_limits import PreregLimits
from live.kernel.strategy import Strategy
from live.promotion.kill_criteria import evaluate_kill, load_kill_criterion
from live.promotion.kill_hits import record_kill_hit
from live.promotion.prereg_envelope import EnvelopeError, load_limits
from live.promotion.status import disable_strategy, prereg_path, promotion_status
from live.runner.alarms import RaiseAlert
from live.runner.slots import EngineSlot

log = logging.getLogger(__name__)
PROMOTION_CACHE_S = 1.0
PROMOTION_STALE_S = 10.0  # the oldest cached answer used on the event loop
KILL_RETRY_S = 2.0  # a kill-criterion check the store could not answer is tried again after this


class StrategyGate:
    """`promoted(name)` is the engines' promotion check; `disabled` maps each strategy its kill
    criterion disabled in this process to the verdict's detail. `targets` are the promotion
    targets that count on this venue (paper or live on the sandbox, live on Polymarket)."""

    def __init__(
        self,
        pool: ConnectionPool,
        repo_root: Path,
        targets: tuple[str, ...],
        alert: RaiseAlert,
        stand_in_lengths: tuple[int, ...] = (),
    ) -> None:
        self._pool = pool
        self._root = repo_root
        self._targets = targets
        self._alert = alert
        self.disabled: dict[str, str] = {}
        self._promotions: dict[str, tuple[float, bool]] = {}
        self._limits: dict[str, PreregLimits | None] = {}  # from the valid promotion's file
        self._stand_ins = stand_in_lengths
        self._background: set[asyncio.Task] = set()
        self._prefetching: asyncio.Future | None = None
        self._kill_lock = threading.Lock()
        self.expired_on_loop = 0  # promotion checks refused on the loop (cache expired)
        self.kill_check_failures = 0  # kill-criterion checks the store did not answer (retried)

    def promoted(self, strategy: str) -> bool:
        """LIVE needs a valid promotion; cached for 1 s. A DB error counts as not promoted
        (fail closed). On the event loop the database is never read (issue 15: a hung server
        must not freeze it): a cache up to 10 s old still answers there (a slow tick), an older
        or no answer counts as not promoted until the tick's `prefetch`, in a worker thread,
        has read it again."""
        cached = self._promotions.get(strategy)
        if cached is not None and time.monotonic() - cached[0] < PROMOTION_CACHE_S:
            return cached[1]
        if _on_event_loop():
            self.expired_on_loop += 1
            young = cached is not None and time.monotonic() - cached[0] < PROMOTION_STALE_S
            return bool(young and cached[1])
        return self._check(strategy)

    def prefetch_in_background(self, strategies: list[str]) -> None:
        """`prefetch` in a worker thread, one at a time; the runner's tick calls it and never
        waits for it (issue 15: a tick held by an unreachable store trips `tick_under_5s`)."""
        if self._prefetching is None or self._prefetching.done():
            self._prefetching = asyncio.ensure_future(asyncio.to_thread(self.prefetch, strategies))

    def prefetch(self, strategies: list[str]) -> None:
        """Refresh the cache of `strategies` about to expire (the runner calls it in a worker
        thread every tick, so `promoted` rarely reads the database on the event loop)."""
        for strategy in strategies:
            cached = self._promotions.get(strategy)
            if cached is None or time.monotonic() - cached[0] >= PROMOTION_CACHE_S * 0.6:
                self._check(strategy)

    def prereg(self, strategy: str) -> PreregLimits | None:
        """The pre-registered envelope of `strategy`'s valid promotion, as of the last promotion
        check (cached with it); None when it holds none."""
        return self._limits.get(strategy)

    def _check(self, strategy: str) -> bool:
        limits = None
        try:
            with self._pool.connection(timeout=2) as conn:
                found = [promotion_status(conn, strategy, self._root, t) for t in self._targets]
            valid = next((s for s in found if s.valid), None)
            ok = valid is not None
            if valid is not None and valid.file_path:
                limits = self._load(strategy, valid.file_path)
                ok = limits is not None  # an unreadable envelope: not tradable (fail closed)
        except Exception as exc:  # noqa: BLE001 - unknown promotion state means no
            log.error("promotion check for %s failed: %s", strategy, exc)
            ok = False
        self._limits[strategy] = limits
        self._promotions[strategy] = (time.monotonic(), ok)
        return ok

    def _load(self, strategy: str, rel: str) -> PreregLimits | None:
        try:
            return load_limits(self._root / rel, rel, self._stand_ins)
        except (EnvelopeError, OSError, yaml.YAMLError) as exc:
            log.error("pre-registration of %s unreadable: %s", strategy, exc)
            return None

    def after_settlement(self, slot: EngineSlot) -> None:
        """A settlement of `slot`'s engine: check the kill criteria off the loop. This session's
        settled P&L is taken from the engine now, on the loop: its rows may not be flushed yet,
        and the settlement that just happened must count (issue 7)."""
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self.check_kill, slot, session_pnls(slot))
        )
        self._background.add(task)
        task.add_done_callback(lambda done: self._kill_checked(done, slot))

    def _kill_checked(self, task: asyncio.Task, slot: EngineSlot) -> None:
        """A check the store could not answer (an outage: the settlement came while it was
        away) is tried again every `KILL_RETRY_S` until it is answered: it was lost before, and
        the criterion went unchecked until the next settlement. Anything else is logged with its
        traceback and counted."""
        self._background.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        self.kill_check_failures += 1
        if isinstance(exc, (psycopg.Error, PoolTimeout)):
            log.warning("kill-criterion check failed (%s: %s): retried in %.0f s",
                        type(exc).__name__, exc, KILL_RETRY_S)  # fmt: skip
            asyncio.get_running_loop().call_later(KILL_RETRY_S, self.after_settlement, slot)
        else:
            log.error("kill-criterion check failed unexpectedly", exc_info=exc)

    def check_kill(self, slot: EngineSlot, session: dict[str, list] | None = None) -> None:
        """Evaluate each strategy's pre-registered kill criterion on its settled P&L: earlier
        runs' from the DB, this run's from `session` (see `session_pnls`) when given. One
        evaluation at a time (settlements arrive together), so a hit disables once."""
        with self._kill_lock:
            run_id = slot.engine.run_id if session is not None else ""
            for strategy in slot.engine.config.strategies:
                if strategy.name not in self.disabled:
                    self._check_strategy(slot, strategy, run_id, session or {})

    def _check_strategy(
        self, slot: EngineSlot, strategy: Strategy, run_id: str, session: dict[str, list]
    ) -> None:
        path = next(
            (
                p
                for n in (strategy.name, *strategy.aliases)
                if (p := prereg_path(self._root, n)).exists()
            ),
            None,
        )
        if path is None:
            return
        with self._pool.connection() as conn:
            if not _allowed(conn, (strategy.name, *strategy.aliases)):
                return  # already disabled (e.g. a restart after a hit): nothing new to record
            pnls = _settled_pnls(conn, strategy.name, str(slot.engine.mode), run_id)
            pnls += session.get(strategy.name, [])
            verdict = evaluate_kill(load_kill_criterion(path), pnls)
            if not verdict.hit:
                return
            known = [s.name for s in slot.engine.config.strategies]
            engine = slot.engine
            with conn.transaction():
                record_kill_hit(conn, strategy.name, verdict, str(engine.mode), engine.run_id)
                disable_strategy(
                    conn,
                    strategy.name,
                    f"kill criterion hit: {verdict.detail}",
                    "runner:kill-criterion",
                    strategy.aliases,
                    known,
                )
        self.disabled[strategy.name] = str(verdict.detail)
        self._alert(
            "kill_criterion_hit",
            strategy.name,
            f"{verdict.kind}: {verdict.detail}",
            "strategy disabled (allowed_strategies updated, promotion revoked)",
        )


def _allowed(conn: psycopg.Connection, names: tuple[str, ...]) -> bool:
    """Is any of `names` in `allowed_strategies` now ('*' or unset: all are)?"""
    row = conn.execute(
        "SELECT value FROM runtime_controls WHERE key = 'allowed_strategies'"
    ).fetchone()
    return row is None or row[0] == "*" or bool(set(row[0].split(",")) & set(names))


def _settled_pnls(conn: psycopg.Connection, strategy: str, mode: str, run_id: str) -> list:
    """Net P&L of the strategy's settled positions in `mode`, other runs than `run_id`."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT pnl_net FROM positions WHERE strategy = %s AND mode = %s AND "
            "pnl_net IS NOT NULL AND run_id IS DISTINCT FROM %s "
            "ORDER BY closed_ts, position_id",
            (strategy, mode, run_id),
        )
    ]


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


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
