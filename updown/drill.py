"""`updown drill`: crash and hand-over drills of the live runner against the sandbox (issue 15).

Each drill builds its own world: a throwaway database on the configured server (migrated, LIVE
controls, the canary promoted), an in-process sandbox with short windows, and one wallet; the
runners are real `updown run --mode live` processes, killed with SIGKILL as a crash would.

- crash: `runs` times, start a runner, wait for a point of the order/position lifecycle chosen at
  random (any instant, an order in flight, a fill matched before its trade is CONFIRMED, a
  position held, a window closed before it settled, a window resolved before its redemption),
  SIGKILL it; the next start must adopt and reconcile cleanly. A last runner settles everything:
  every position CLOSED, every fill CONFIRMED or FAILED, every receivable redeemed.
- handover: two instances at once; `starts` times, SIGKILL the trader, measure how long the
  observer takes to take over (≤ 5 s), start a new observer. Exactly one trader at every poll,
  and every venue order was sent by the instance holding the lock at that instant.

The sandbox runs at its default realism, `venue` (settle to cash by redemption, trades MATCHED →
MINED → CONFIRMED over seconds, the Data API's lag). Both end with the ledger checks: no position
lost (open at the end), duplicated (two positions for one strategy, window and side) or orphaned,
no fill left settling, no receivable left unredeemed, never more than two entries per window and
instrument, and the venue balance equal to the start balance plus every position's net P&L.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

import psycopg

REPO = Path(__file__).resolve().parents[1]
STAGES = (
    "any instant",
    "order in flight",
    "matched, not confirmed",
    "position held",
    "closed, not settled",
    "resolved, not redeemed",
)
Progress = Callable[[str], None]


class DrillError(RuntimeError):
    """The drill could not run (a process that would not start, a database it cannot create)."""


@dataclass
class Report:
    """What a drill found: its figures and every violation (empty = passed)."""

    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, timeout: float = 1.0) -> dict | None:
    try:
        with urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (URLError, OSError, ValueError):
        return None


class World:
    """The drill's database, sandbox and wallet, and the runner processes it started."""

    def __init__(self, seed: int, window_s: int, keep: bool = False) -> None:
        from eth_account import Account

        from live.store.db import database_url, with_database

        self.seed, self.window_s, self.keep = seed, window_s, keep
        self.admin_url = database_url()
        self.dbname = f"updown_drill_{uuid.uuid4().hex[:10]}"
        self.url = with_database(self.admin_url, self.dbname)
        account = Account.create()
        self.key, self.address = account.key.hex(), account.address
        self.workdir = Path(tempfile.mkdtemp(prefix="updown-drill-"))
        self.procs: dict[str, tuple[subprocess.Popen, int]] = {}
        self.sandbox: Any = None
        self._n = 0

    def __enter__(self) -> World:
        from live.store import controls, migrate
        from sandbox.config import SandboxConfig
        from sandbox.realism import Realism
        from sandbox.server import SandboxServer

        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
        except psycopg.Error as exc:
            raise DrillError(f"cannot create the drill database: {exc}") from exc
        migrate.migrate(self.url)
        with psycopg.connect(self.url) as conn:
            for key, value in (
                ("trading_mode", "LIVE"),
                ("allowed_strategies", "canary"),
                ("kill_switch", "off"),
                # Many windows in one session: the session-loss cap (which survives restarts)
                # would otherwise stop the canary's entries, and the kills would find nothing
                # open. The hard per-position cap stays.
                ("max_session_loss", "1000"),
            ):
                controls.write(conn, key, value, "drill")
            self._promote(conn)
        config = SandboxConfig(
            port=0,
            seed=self.seed,
            assets=("BTC", "ETH"),
            window_seconds=(self.window_s,),
            settle_delay=1.0,
            trade_step_seconds=0.2,
            tick_seconds=2.0,
            realism=Realism.VENUE,  # the default, said: settle to cash by redemption
        )
        self.sandbox = SandboxServer(config).start()
        self.start_balance = config.start_balance  # the wallet's, before its first order
        return self

    def _promote(self, conn: psycopg.Connection) -> None:
        import hashlib

        rel = "preregistrations/canary.yaml"
        sha = hashlib.sha256((REPO / rel).read_bytes()).hexdigest()
        conn.execute(
            "INSERT INTO promotions (strategy, target, file_path, file_sha256, git_commit, checks)"
            " VALUES ('always-trade-canary', 'paper', %s, %s, 'drill', '[]')",
            (rel, sha),
        )

    def __exit__(self, *exc: object) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGKILL)
        if self.sandbox is not None:
            self.sandbox.stop()
        if not self.keep:
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(self.admin_url, autocommit=True) as conn,
            ):
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    # ------------------------------------------------------------------ runners

    def start(self) -> str:
        """A new `updown run --mode live` process; returns its name."""
        self._n += 1
        name = f"runner-{self._n}"
        port = _free_port()
        env = {
            **os.environ,
            "UPDOWN_DATABASE_URL": self.url,
            "POLYMARKET_PRIVATE_KEY": self.key,
            "PYTHONUNBUFFERED": "1",
        }
        args = [
            sys.executable, "-m", "updown.cli", "run", "--mode", "live", "--venue", "sandbox",
            "--sandbox-url", self.sandbox.base_url, "--strategies", "canary",
            "--assets", "BTC,ETH", "--window-seconds", str(self.window_s),
            "--health-port", str(port),
        ]  # fmt: skip
        log = (self.workdir / f"{name}.log").open("w")
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs[name] = (proc, port)
        return name

    def health(self, name: str) -> dict | None:
        return _get_json(f"http://127.0.0.1:{self.procs[name][1]}/health")

    def wait_started(self, name: str, timeout: float = 90) -> dict:
        proc = self.procs[name][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DrillError(f"{name} exited with {proc.returncode}: {self.tail(name)}")
            status = self.health(name)
            if status and status.get("trading_state", "STARTING") != "STARTING":
                return status
            time.sleep(0.1)
        raise DrillError(f"{name} did not start within {timeout:.0f} s: {self.tail(name)}")

    def kill(self, name: str, sig: int) -> None:
        if name not in self.procs:
            return  # already gone
        proc, _ = self.procs.pop(name)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def tail(self, name: str, lines: int = 8) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace").splitlines() if path.exists() else []
        return " | ".join(text[-lines:])

    # ------------------------------------------------------------------ the database

    def rows(self, sql: str, *args: Any) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, args).fetchall()

    def venue_state(self) -> dict:
        return _get_json(f"{self.sandbox.base_url}/_sandbox/state", timeout=5) or {}

    def venue_balance(self) -> Decimal:
        balances = self.venue_state().get("balances", {})
        found = {a.lower(): v for a, v in balances.items()}.get(self.address.lower())
        return Decimal(str(found)) if found is not None else Decimal(0)


def _wait(probe: Callable[[], Any], timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every)
    return None


def _stage_probe(world: World, stage: str, since: float) -> Callable[[], bool]:
    after = f"to_timestamp({since})"
    if stage == "order in flight":
        sql = (
            "SELECT 1 FROM orders WHERE mode = 'LIVE' AND state IN ('SUBMITTED', 'ACKED', "
            f"'UNKNOWN') AND created_ts > {after}"
        )
    elif stage == "matched, not confirmed":
        sql = (
            "SELECT 1 FROM fills f JOIN orders o USING (client_order_id) WHERE o.mode = 'LIVE' "
            f"AND f.status IN ('MATCHED', 'MINED') AND f.ts > {after}"
        )
    elif stage == "resolved, not redeemed":
        sql = (
            "SELECT 1 FROM redemptions WHERE mode = 'LIVE' AND status = 'PENDING' "
            f"AND resolved_ts > {after}"
        )
    elif stage == "position held":
        sql = "SELECT 1 FROM positions WHERE mode = 'LIVE' AND state = 'MONITORING'"
    else:  # closed, not settled
        sql = (
            "SELECT 1 FROM positions p JOIN windows w ON w.slug = p.window_slug "
            "AND w.venue = coalesce(p.venue, w.venue) "
            "WHERE p.mode = 'LIVE' AND p.state <> 'CLOSED' AND w.close_ts < now()"
        )
    return lambda: bool(world.rows(sql))


def _check_start(world: World, name: str, status: dict, report: Report, n: int) -> None:
    """A trader's start (or takeover): the reconciliation that follows its adoption is clean."""

    def reconciled() -> dict | None:
        found = world.health(name) or {}
        done = (found.get("reconciliation") or {}).get("ok") is not None
        return found if done or (found.get("lock") or {}).get("role") == "observer" else None

    status = _wait(reconciled, 60, every=0.1) or status
    rec = status.get("reconciliation") or {}
    role = (status.get("lock") or {}).get("role")
    if role != "trader" or rec.get("ok") is not True:
        report.violations.append(
            f"start {n}: {role}, reconciliation {rec.get('differences') or rec} "
            f"{(status.get('lock') or {}).get('observer_reasons')}"
        )
    adopted = status.get("adoption") or {}
    report.figures["adopted_positions"] += len(adopted.get("positions") or [])
    report.figures["adopted_orders"] += len(adopted.get("orders") or [])


OPEN_SQL = (
    "SELECT 1 FROM positions WHERE mode = 'LIVE' AND state <> 'CLOSED' UNION ALL "
    "SELECT 1 FROM orders WHERE mode = 'LIVE' AND state IN ('NEW', 'SUBMITTED', "
    "'ACKED', 'PARTIALLY_FILLED', 'UNKNOWN') UNION ALL "
    "SELECT 1 FROM fills f JOIN orders o USING (client_order_id) WHERE o.mode = 'LIVE' "
    "AND f.status IN ('MATCHED', 'MINED') UNION ALL "
    "SELECT 1 FROM redemptions WHERE mode = 'LIVE' AND status = 'PENDING'"
)


def _settle_all(world: World, name: str, timeout: float) -> bool:
    """Wait until nothing LIVE is open (positions, working orders), settling (fills not yet
    CONFIRMED) or owed (receivables not yet redeemed)."""
    return bool(_wait(lambda: not world.rows(OPEN_SQL), timeout, every=0.5))


def _ledger_checks(world: World, report: Report, start_balance: Decimal) -> None:
    open_rows = world.rows(
        "SELECT position_id, state FROM positions WHERE mode = 'LIVE' AND state <> 'CLOSED'"
    )
    report.figures["positions"] = world.rows("SELECT count(*) FROM positions WHERE mode = 'LIVE'")[
        0
    ][0]
    report.figures["orphaned_or_lost"] = len(open_rows)
    for pid, state in open_rows:
        report.violations.append(f"position {pid} left {state}: lost or orphaned")
    dups = world.rows(
        "SELECT strategy, window_slug, outcome, count(*) FROM positions WHERE mode = 'LIVE' "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1"
    )
    report.figures["duplicated"] = len(dups)
    for strategy, slug, outcome, n in dups:
        report.violations.append(f"{n} positions of {strategy} on {slug} {outcome}: duplicated")
    per_window = world.rows(
        "SELECT window_slug, count(*) FROM orders WHERE mode = 'LIVE' AND purpose = 'ENTRY' "
        "GROUP BY 1 ORDER BY 2 DESC"
    )
    report.figures["max_entries_per_window"] = per_window[0][1] if per_window else 0
    for slug, n in per_window:
        if n > 2:
            report.violations.append(f"{n} entry orders on {slug} (at most 2)")
    unsettled = world.rows(
        "SELECT p.position_id FROM positions p WHERE p.mode = 'LIVE' AND p.state = 'CLOSED' "
        "AND p.exit_reason IS DISTINCT FROM 'FLATTEN' AND NOT EXISTS (SELECT 1 FROM settlements "
        "s WHERE s.window_slug = p.window_slug AND s.mode = 'LIVE') AND p.resolution IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.position_id = p.position_id AND "
        "o.purpose = 'EXIT' AND o.filled_shares > 0)"
    )
    for (pid,) in unsettled:
        report.violations.append(f"position {pid} CLOSED without its settlement")
    settling = world.rows(
        "SELECT f.fill_id, f.status FROM fills f JOIN orders o USING (client_order_id) "
        "WHERE o.mode = 'LIVE' AND f.status IN ('MATCHED', 'MINED')"
    )
    report.figures["fills_left_settling"] = len(settling)
    for fill_id, status in settling:
        report.violations.append(f"fill {fill_id} left {status}")
    owed = world.rows(
        "SELECT position_id, expected_usd FROM redemptions WHERE mode = 'LIVE' "
        "AND status = 'PENDING'"
    )
    report.figures["receivables_left"] = len(owed)
    for pid, usd in owed:
        report.violations.append(f"position {pid}: ${usd} never redeemed")
    report.figures["redeemed"] = world.rows(
        "SELECT count(*) FROM redemptions WHERE mode = 'LIVE' AND status = 'REDEEMED'"
    )[0][0]
    pnl = world.rows(
        "SELECT coalesce(sum(pnl_net), 0) FROM positions WHERE mode = 'LIVE' AND state = 'CLOSED'"
    )[0][0]
    end = world.venue_balance()
    expected = start_balance + Decimal(pnl)
    report.figures["venue_balance"] = str(end)
    report.figures["ledger_balance"] = str(expected)
    if abs(end - expected) > Decimal("0.000001"):
        report.violations.append(f"venue balance {end} ≠ start {start_balance} + net P&L {pnl}")


def crash(
    runs: int, *, seed: int = 1, window_s: int = 20, progress: Progress = print, keep=False
) -> Report:
    """SIGKILL the trading runner `runs` times at random lifecycle points, restarting it."""
    rng = random.Random(seed)
    report = Report("crash", {"runs": runs, "adopted_positions": 0, "adopted_orders": 0})
    hits: dict[str, int] = {}
    began = time.monotonic()
    with World(seed, window_s, keep) as world:
        start_balance = world.start_balance
        for n in range(1, runs + 1):
            name = world.start()
            status = world.wait_started(name)
            if n > 1:
                _check_start(world, name, status, report, n)
            stage = rng.choice(STAGES)
            since = time.time()
            if stage == "any instant":
                time.sleep(rng.uniform(0.2, window_s))
                hit = stage
            else:
                hit = stage if _wait(_stage_probe(world, stage, since), 2 * window_s) else "timeout"
            time.sleep(rng.uniform(0, 0.2))
            world.kill(name, signal.SIGKILL)
            hits[hit] = hits.get(hit, 0) + 1
            progress(f"crash {n}/{runs}: SIGKILL at '{hit}' ({len(report.violations)} violations)")
        name = world.start()
        _check_start(world, name, world.wait_started(name), report, runs + 1)
        if not _settle_all(world, name, 4 * window_s + 30):
            report.violations.append("the last runner did not settle everything in time")
        world.kill(name, signal.SIGINT)
        _ledger_checks(world, report, start_balance)
    report.figures["kills_by_stage"] = hits
    report.figures["seconds"] = round(time.monotonic() - began, 1)
    return report


def handover(
    starts: int, *, seed: int = 1, window_s: int = 20, progress: Progress = print, keep=False
) -> Report:
    """Two instances; SIGKILL the trader `starts` times; the observer takes over each time."""
    rng = random.Random(seed)
    report = Report("handover", {"handovers": starts, "adopted_positions": 0, "adopted_orders": 0})
    takeover_s: list[float] = []
    tenure: dict[str, list[float]] = {}  # run id -> [trader since, trader until] (epoch s)
    began = time.monotonic()
    with World(seed, window_s, keep) as world:
        start_balance = world.start_balance
        trader = world.start()
        world.wait_started(trader)
        observer = world.start()
        world.wait_started(observer)
        runs = {trader: _run_id(world, trader)}
        tenure[runs[trader]] = [0.0, float("inf")]
        for n in range(1, starts + 1):
            time.sleep(rng.uniform(0.5, window_s / 2))
            traders = [x for x in (trader, observer) if _role(world, x) == "trader"]
            if len(traders) != 1:
                report.violations.append(f"handover {n}: {len(traders)} traders before the kill")
            killed_at = time.time()
            world.kill(trader, signal.SIGKILL)
            tenure[runs[trader]][1] = killed_at
            t0 = time.monotonic()
            took = _wait(lambda o=observer: _role(world, o) == "trader", 10, every=0.05)
            if not took:
                status = world.health(observer) or {}
                report.violations.append(
                    f"handover {n}: no takeover within 10 s: {status.get('lock')}, "
                    f"reconciliation {status.get('reconciliation')}"
                )
                trader = observer
                break
            took_s = time.monotonic() - t0
            takeover_s.append(took_s)
            if took_s > 5:
                report.violations.append(f"handover {n}: takeover took {took_s:.1f} s (> 5 s)")
            _check_start(world, observer, world.health(observer) or {}, report, n)
            trader = observer
            runs[trader] = _run_id(world, trader)
            tenure[runs[trader]] = [time.time() - took_s, float("inf")]
            observer = world.start()
            world.wait_started(observer)
            if _role(world, observer) != "observer":
                report.violations.append(f"handover {n}: the new instance is not an observer")
            progress(
                f"handover {n}/{starts}: took over in {took_s:.2f} s "
                f"({len(report.violations)} violations)"
            )
        if observer != trader:
            world.kill(observer, signal.SIGINT)
        if not _settle_all(world, trader, 4 * window_s + 30):
            report.violations.append("the last trader did not settle everything in time")
        world.kill(trader, signal.SIGINT)
        _order_log_checks(world, report, tenure)
        _ledger_checks(world, report, start_balance)
    if takeover_s:
        report.figures["takeover_s_max"] = round(max(takeover_s), 2)
        report.figures["takeover_s_mean"] = round(sum(takeover_s) / len(takeover_s), 2)
    report.figures["seconds"] = round(time.monotonic() - began, 1)
    return report


def _role(world: World, name: str) -> str | None:
    status = world.health(name) or {}
    return (status.get("lock") or {}).get("role")


def _run_id(world: World, name: str) -> str | None:
    status = world.health(name) or {}
    engines = status.get("engines") or [{}]
    return engines[0].get("run_id")


def _order_log_checks(world: World, report: Report, tenure: dict[str, list[float]]) -> None:
    """Every order the venue accepted from our wallet was sent by the lock holder of the time."""
    ours = {
        vid: (run_id, created.timestamp())
        for vid, run_id, created in world.rows(
            "SELECT venue_order_id, run_id, created_ts FROM orders WHERE mode = 'LIVE' "
            "AND venue_order_id IS NOT NULL"
        )
    }
    from sandbox.wire import MAKER_BOT_OWNER

    venue_orders = [
        o for o in world.venue_state().get("orders", []) if o.get("owner") != MAKER_BOT_OWNER
    ]
    report.figures["venue_orders"] = len(venue_orders)
    for order in venue_orders:
        found = ours.get(order["id"])
        if found is None:
            report.violations.append(f"venue order {order['id']} unknown to the database")
            continue
        run_id, created = found
        since, until = tenure.get(run_id, [None, None])
        if since is None or not (since - 1.0 <= created <= until + 1.0):
            report.violations.append(
                f"venue order {order['id']} from run {run_id} outside its lock tenure"
            )


def print_report(report: Report, echo: Progress = print) -> None:
    echo(f"{report.name} drill: {'PASS' if report.passed else 'FAIL'}")
    for key, value in report.figures.items():
        echo(f"  {key}: {value}")
    for violation in report.violations:
        echo(f"  VIOLATION: {violation}")
