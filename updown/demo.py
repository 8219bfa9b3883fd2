"""`updown demo`: the main job on one machine. Embedded PostgreSQL (unless UPDOWN_DATABASE_URL),
the sandbox exchange with short windows, the live runner trading the canary LIVE against the
sandbox with PAPER and DRY_RUN copies beside it, and the dashboard. The demo walks the promotion
path in front of you within about a minute: LIVE entries are denied NOT_PROMOTED until the
DRY_RUN copy has 10 clean settled windows, then the gate promotes the canary to paper (the
sandbox's rung) and LIVE orders reach the sandbox and settle. Its first lines announce the
timeline (updown.demo_timeline); each step is said as it happens (updown.demo_path). Ctrl-C stops
everything cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psutil
import psycopg

from live.reports.money import usd
from live.store import controls as control_store
from live.store import migrate
from live.store.db import ENV_URL, database_url, mask_url
from updown.demo_timeline import announcement, entry_offset_s, expected

ENV_OPERATORS = "UPDOWN_DASHBOARD_OPERATORS"  # panel_app.auth.ENV_OPERATORS (not imported: slow)

if TYPE_CHECKING:
    from updown.demo_path import DemoPath

REPO = Path(__file__).resolve().parents[1]
STRATEGY = "canary"
# Windows of 15 and 20 s give the gate its 10 DRY_RUN windows within ~40 s (the canary enters at
# half such a window, 2.5-5 s before the 5 s entry cutoff); the 60 s windows are traded at
# T-30 s beside them, closer to the real 5m/15m markets.
WINDOW_SECONDS = (15, 20, 60)
SETTLE_DELAY_S = 2.0
DASHBOARD_START_S = 90.0
RUNNER_FIRST_ENTRY_S = 2.0  # from /health answering to the runner's first entry (discovery, books)
# A demo stopped with LIVE positions still open or awaiting redemption leaves its sandbox running
# (a venue does not stop when a trader does) and says so here; the next demo on the same port
# reuses it, and its runner adopts and settles what the last one left (issue 15).
VENUE_RECORDS = REPO / ".updown"  # demo-venue-<port>.json: one record per sandbox port
# The demo's throw-away sandbox wallet, kept so that a restarted demo trades the same account
# (a fresh key would be a fresh, empty account). Sandbox only: never funded anywhere real.
WALLET = REPO / ".updown" / "demo-wallet"
KEY_VAR = "POLYMARKET_PRIVATE_KEY"  # live.venues.config.KEY_VAR (not imported: slow)


@dataclass
class DemoConfig:
    duration_s: float | None = None
    sandbox_port: int = 8701
    health_port: int = 8711
    dashboard_port: int = 5006
    assets: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP")
    window_seconds: tuple[int, ...] = WINDOW_SECONDS
    settle_delay_s: float = SETTLE_DELAY_S
    seed: int = 42
    dashboard: bool = True
    poll_s: float = 1.0  # how often the path is read from the database
    status_every_s: float = 5.0
    say: Callable[[str], None] = field(default=print)


def _stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM both stop the demo the careful way (open LIVE positions
    settle first; the second one stops at once). Installed explicitly: a process started in
    the background of a non-interactive shell inherits SIGINT ignored, and Python then never
    raises KeyboardInterrupt (the clean-clone CI ran the demo so: Ctrl-C did nothing)."""
    if not _main_thread():
        return  # signal handlers can only be set there (a test driving Demo in a thread)

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _ignore_signals() -> None:
    if _main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def live_left_open(url: str, since: datetime) -> int:
    """LIVE positions opened since `since` that are not settled to cash (not CLOSED, or closed
    with their redemption still PENDING), plus LIVE orders sent since then that the venue has
    not answered for good (a match the venue has not reported yet opens a position later)."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        open_positions = conn.execute(
            "SELECT count(*) FROM positions WHERE mode = 'LIVE' AND state <> 'CLOSED' "
            "AND opened_ts >= %s",
            (since,),
        ).fetchone()[0]
        in_flight = conn.execute(
            "SELECT count(*) FROM orders o WHERE o.mode = 'LIVE' AND o.created_ts >= %s "
            "AND o.state IN ('NEW', 'SUBMITTED', 'ACKED', 'PARTIALLY_FILLED', 'UNKNOWN') "
            "AND NOT EXISTS (SELECT 1 FROM positions p WHERE p.mode = 'LIVE' "
            "AND p.window_slug = o.window_slug AND p.run_id = o.run_id)",
            (since,),
        ).fetchone()[0]
        owed = conn.execute(
            "SELECT count(*) FROM redemptions WHERE mode = 'LIVE' AND status = 'PENDING' "
            "AND resolved_ts >= %s",
            (since,),
        ).fetchone()[0]
    return open_positions + in_flight + owed


class KeptVenue:
    """A sandbox an earlier demo left running: not this process's child, so it is watched by
    its pid through psutil, and only while that pid is the very process recorded (same creation
    time, an `updown.cli sandbox --port PORT` command line): a reused pid is never signalled.
    Offers the Popen calls the demo makes. ValueError or KeyError if the record is malformed."""

    def __init__(self, record: dict) -> None:
        self.pid, self.returncode = int(record["pid"]), None
        self.port, self.created = int(record["port"]), float(record["created"])
        self.since = datetime.fromisoformat(record["since"])
        self._proc: psutil.Process | None = None
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(self.pid)
            line = proc.cmdline()
            if (
                abs(proc.create_time() - self.created) < 0.01
                and "updown.cli" in line
                and "sandbox" in line
                and str(self.port) in line
            ):
                self._proc = proc

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                alive = self._proc is not None and self._proc.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive:
                self.returncode = 0
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(psutil.Error):
                self._proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.1)
        return 0

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class DemoError(RuntimeError):
    """Something the demo needs could not be started; the message says what."""


class Demo:
    """One demo session: its child processes (sandbox, runner, dashboard), the path it watches
    and the lines it says. `run()` is the whole session, from the announcement to the stop."""

    def __init__(self, config: DemoConfig) -> None:
        self.c = config
        self.procs: dict[str, subprocess.Popen] = {}
        self.url = ""
        self.path: DemoPath | None = None
        self._dashboard_due: float | None = None  # until the dashboard answers
        self.start_s = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.venue_since = self.started_at  # when the sandbox in use started (kept or new)

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> int:
        self.start_s, self.started_at = time.monotonic(), datetime.now(UTC)
        _stop_on_signals()
        self._announce()
        try:
            self.start()
            self.watch()
        except KeyboardInterrupt:
            self.c.say("\nstopping (Ctrl-C)…")
        finally:
            self.stop()
        return 0

    def _announce(self) -> None:
        """The first lines: what is about to start and roughly when each step happens."""
        when = expected(
            self.started_at.timestamp(),
            self.c.window_seconds,
            len(self.c.assets),
            self.c.settle_delay_s,
        )
        embedded = not os.environ.get(ENV_URL)
        lines = announcement(
            self.c.window_seconds, self.c.assets, when, self.c.dashboard, embedded=embedded
        )
        for line in lines:
            self.c.say(line)
        self.c.say("")

    def start(self) -> None:
        from updown.demo_path import DemoPath  # the gate: scipy and friends, ~1-2 s to import

        say = self.c.say
        self.url = database_url()
        migrate.migrate(self.url)
        say(f"database     {mask_url(self.url)}")
        self.env = {**os.environ, "UPDOWN_DATABASE_URL": self.url, "PYTHONUNBUFFERED": "1"}
        base = f"http://127.0.0.1:{self.c.sandbox_port}"
        kept = self._kept_venue(base)
        self.path = DemoPath(self.url, REPO, self.started_at, say, self.start_s)
        record = self.path.begin(venue_kept=kept is not None)
        if kept is not None:
            self.procs["sandbox"] = kept
            self.venue_since = kept.since
        else:
            self._spawn_sandbox(base)
            self.venue_since = self.started_at
        self._prepare_controls()
        self._spawn("runner", "run", *self._runner_args(base), env={KEY_VAR: self._wallet_key()})
        self._wait_http("runner", self.health_url, timeout_s=90)
        if self.c.dashboard:  # its start is checked while watching: the path does not wait for it
            self._demo_operator()
            self._spawn("dashboard", "dashboard", "--port", str(self.c.dashboard_port))
            self._dashboard_due = time.monotonic() + DASHBOARD_START_S
        self._banner(base)
        self._schedule(record.evidence, record.promotion is not None)

    def _sandbox_args(self) -> list[str]:
        return [
            "--port",
            str(self.c.sandbox_port),
            "--seed",
            str(self.c.seed),
            "--assets",
            ",".join(self.c.assets),
            "--window-seconds",
            ",".join(map(str, self.c.window_seconds)),
            "--settle-delay",
            str(self.c.settle_delay_s),
        ]

    def _runner_args(self, base: str) -> list[str]:
        return [
            "--mode",
            "live",
            "--venue",
            "sandbox",
            "--sandbox-url",
            base,
            "--copies",
            "paper,dry-run",
            "--assets",
            ",".join(self.c.assets),
            "--window-seconds",
            ",".join(map(str, self.c.window_seconds)),
            "--health-port",
            str(self.c.health_port),
        ]

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.c.health_port}/health"

    def _prepare_controls(self) -> None:
        """The demo trades the canary LIVE on the sandbox (audited as 'demo')."""
        with psycopg.connect(self.url) as conn:
            for key, value in (
                ("trading_mode", "LIVE"),
                ("allowed_strategies", STRATEGY),
                ("kill_switch", "off"),
            ):
                control_store.write(conn, key, value, "demo")

    def _demo_operator(self) -> None:
        """Zero set-up: unless the operator configured their own operators file, the dashboard
        gets a throwaway one with operator `demo` and a fresh random password, said in the
        banner (local only; it changes at every run)."""
        self.login: tuple[str, str] | None = None
        if os.environ.get(ENV_OPERATORS):
            return
        from panel_app.auth import hash_password, save_operators

        password = secrets.token_urlsafe(12)
        path = REPO / ".updown" / "demo-operators"
        save_operators(path, {"demo": hash_password(password)})
        self.env[ENV_OPERATORS] = str(path)
        self.login = ("demo", password)

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = REPO / ".updown" / f"demo-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = log.open("w")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "updown.cli", *args],
            cwd=REPO,
            env={**self.env, **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait_http(self, name: str, url: str, timeout_s: float = 45) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise DemoError(
                    f"{name} exited with {proc.returncode}; see .updown/demo-{name}.log"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            time.sleep(0.5)
        raise DemoError(f"{name} did not answer at {url} within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Open LIVE positions settle first (bounded; Ctrl-C again: stop now), then the runner
        (SIGINT: it cancels pending entries, records what it leaves open and flushes), then the
        dashboard; the sandbox stops too unless LIVE positions are still open or awaiting their
        redemption: then it keeps running for the next demo to settle them (VENUE_RECORDS)."""
        try:
            self._settle_open_live()
        except KeyboardInterrupt:
            self.c.say("stopping now: open LIVE positions stay open in the records")
        _ignore_signals()  # the rest is bounded (30 + 10 s): a third Ctrl-C must not cut it
        for name in ("runner", "dashboard"):
            self._end(name)
        kept = self._keep_venue()
        if not kept:
            self._end("sandbox")  # ours (new or kept): the port's record goes with it
            self._record_path().unlink(missing_ok=True)
        if self.path is not None:
            self.c.say(self.path.summary())
        if self.procs:
            what = (
                "runner and dashboard are down"
                if kept
                else "runner, dashboard and sandbox are down"
            )
            self.c.say(f"demo stopped: {what}; the database keeps every record (updown db url)")

    def _end(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT if name == "runner" else signal.SIGTERM)
        try:
            proc.wait(timeout=30 if name == "runner" else 10)
        except subprocess.TimeoutExpired:
            proc.kill()

    # ------------------------------------------------------------------ the venue across demos

    def _wallet_key(self) -> str:
        """The sandbox wallet's key: the operator's POLYMARKET_PRIVATE_KEY if set, else the
        demo's own throw-away key in WALLET (created once, mode 0600; never printed)."""
        if os.environ.get(KEY_VAR):
            return os.environ[KEY_VAR]
        with contextlib.suppress(FileNotFoundError):
            key = WALLET.read_text().strip()
            if re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", key):
                return key
            self.c.say(f"wallet       {WALLET.name} does not hold a key: a new one replaces it")
        WALLET.parent.mkdir(parents=True, exist_ok=True)
        key = "0x" + secrets.token_hex(32)
        fd = os.open(WALLET, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key

    def _venue_shape(self) -> dict:
        return {
            "port": self.c.sandbox_port,
            "seed": self.c.seed,
            "assets": list(self.c.assets),
            "window_seconds": list(self.c.window_seconds),
        }

    def _record_path(self) -> Path:
        return VENUE_RECORDS / f"demo-venue-{self.c.sandbox_port}.json"

    def _kept_venue(self, base: str) -> KeptVenue | None:
        """The sandbox the last demo left running on this port, if it is alive, answers at
        `base` and has this demo's shape (seed, assets, window lengths); else None (a stale
        record is removed). DemoError if it holds the port with another shape or is mute."""
        path = self._record_path()
        try:
            record = json.loads(path.read_text())
            venue = KeptVenue(record)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.c.say(f"sandbox      ignoring {path.name}: {exc}")
            path.unlink(missing_ok=True)
            return None
        if venue.poll() is not None:
            path.unlink(missing_ok=True)
            return None
        if {k: record.get(k) for k in self._venue_shape()} != self._venue_shape():
            raise DemoError(
                f"the sandbox the last demo left running on port {self.c.sandbox_port} (pid "
                f"{venue.pid}) has another seed, assets or window lengths: stop it (kill "
                f"{venue.pid}; the positions it holds stay unsettled) or use another "
                "--sandbox-port"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/_sandbox/state", timeout=5).status_code == 200:
                self.c.say(
                    f"sandbox      reusing the sandbox the last demo left running (pid {venue.pid},"
                    f" up since {venue.since:%H:%M:%S}): the runner adopts and settles what it "
                    "left open"
                )
                return venue
        raise DemoError(
            f"the sandbox the last demo left running (pid {venue.pid}) does not answer at "
            f"{base}: stop it (kill {venue.pid}) or use another --sandbox-port"
        )

    def _spawn_sandbox(self, base: str) -> None:
        """Start a new sandbox; DemoError if the port is taken (a server already listening
        there would otherwise answer for it)."""
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", self.c.sandbox_port))
            except OSError as exc:
                raise DemoError(
                    f"port {self.c.sandbox_port} is in use ({exc.strerror}): stop what listens "
                    "there or pass --sandbox-port"
                ) from None
        self._spawn("sandbox", "sandbox", *self._sandbox_args())
        self._wait_http("sandbox", f"{base}/_sandbox/state")

    def _keep_venue(self) -> bool:
        """Leave the sandbox running when LIVE positions it holds are still open or awaiting
        redemption (the runner has stopped: nothing else would settle them); True if kept."""
        proc = self.procs.get("sandbox")
        if proc is None or proc.poll() is not None or not self.url:
            return False
        try:
            left = self._left_open()
        except psycopg.Error as exc:
            self.c.say(
                f"stopping     cannot count open LIVE positions ({exc}): stopping the sandbox"
            )
            return False
        if not left:
            return False
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            return False  # it has just gone
        since = self.venue_since.isoformat(timespec="seconds")
        record = {**self._venue_shape(), "pid": proc.pid, "created": created, "since": since}
        self._record_path().write_text(json.dumps(record) + "\n")
        self.c.say(
            f"stopping     {left} LIVE positions are still open or awaiting redemption: the "
            f"sandbox keeps running (pid {proc.pid}, port {self.c.sandbox_port}) as a venue "
            f"would; the next `make demo` adopts and settles them (or stop it: kill {proc.pid})"
        )
        return True

    def _settle_open_live(self) -> None:
        """Pause new entries (kill_switch pause, audited 'demo'; the next demo resumes) and wait,
        bounded, until the LIVE positions on this sandbox (this session's and any it adopted)
        have settled and been redeemed."""
        alive = all(
            name in self.procs and self.procs[name].poll() is None for name in ("runner", "sandbox")
        )
        if self.path is None or not alive or not (still := self._left_open()):
            return
        with psycopg.connect(self.url) as conn:
            control_store.write(conn, "kill_switch", "pause", "demo")
        # + the venue's settlement (CONFIRMED 2-15 s after the match) and the redemption's
        # transaction (confirmed 4-12 s after it is sent): the cash must arrive too.
        bound = max(map(entry_offset_s, self.c.window_seconds)) + self.c.settle_delay_s + 40
        self.c.say(
            f"stopping     new entries paused; waiting up to {bound:.0f} s for {still} LIVE "
            "positions to settle and be redeemed (Ctrl-C again: stop now, the sandbox keeps "
            "them for the next demo)"
        )
        deadline = time.monotonic() + bound
        while still and time.monotonic() < deadline:
            time.sleep(self.c.poll_s)
            self.path.poll()
            still = self._left_open()
        self.c.say(
            f"stopping     {still} LIVE positions still open or awaiting redemption after "
            f"{bound:.0f} s"
            if still
            else "stopping     every LIVE position on this sandbox has settled and been redeemed"
        )

    def _left_open(self) -> int:
        return live_left_open(self.url, self.venue_since)

    # ------------------------------------------------------------------ watching

    def elapsed(self) -> float:
        return time.monotonic() - self.start_s

    def watch(self) -> None:
        """Read the path every `poll_s`, a status line every `status_every_s`, until the
        duration is up; a child that stops ends the demo (DemoError)."""
        next_status = 0.0
        while self.c.duration_s is None or self.elapsed() < self.c.duration_s:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise DemoError(
                        f"{name} stopped unexpectedly (exit {proc.returncode}); "
                        f"see .updown/demo-{name}.log"
                    )
            self._check_dashboard()
            try:
                self.path.poll()
            except psycopg.OperationalError as exc:
                self.c.say(f"database     unreachable: {str(exc).strip().splitlines()[0]}")
            if self.elapsed() >= next_status:
                self._status_line()
                next_status = self.elapsed() + self.c.status_every_s
            time.sleep(self.c.poll_s)

    def _check_dashboard(self) -> None:
        """Say the dashboard's URL once it answers; DemoError if it has not within 90 s."""
        if self._dashboard_due is None:
            return
        url = f"http://127.0.0.1:{self.c.dashboard_port}/"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                self._dashboard_due = None
                self.c.say(f"dashboard    {url} is up")
                return
        if time.monotonic() > self._dashboard_due:
            raise DemoError(f"dashboard did not answer at {url} within {DASHBOARD_START_S:.0f} s")

    def _status_line(self) -> None:
        try:
            h = httpx.get(self.health_url, timeout=2).json()
        except (httpx.HTTPError, ValueError):
            self.c.say("runner       health endpoint unreachable")
            return
        engines = "  ".join(
            f"{e['mode']}: {e['open_positions']} open / {e['closed_positions']} closed, "
            f"net {usd(e['session_pnl']['net'], signed=True)}"
            for e in h["engines"]
        )
        feeds = sum(1 for f in h["feeds"].values() if f["status"] == "green")
        self.c.say(
            f"{time.strftime('%H:%M:%S')} +{self.elapsed():3.0f} s  {h['trading_state']} "
            f"{h['lock']['role']}  feeds {feeds}/{len(h['feeds'])} green  "
            f"{self.path.phrase()}  |  {engines}"
        )

    def _schedule(self, evidence: int, promoted: bool) -> None:
        """The expected clock times of the path's steps, from the real start-up time."""
        when = expected(
            self.started_at.timestamp(),
            self.c.window_seconds,
            len(self.c.assets),
            self.c.settle_delay_s,
            ready_s=self.elapsed() + RUNNER_FIRST_ENTRY_S,
            evidence=evidence,
            promoted=promoted,
        )

        def at(seconds: float) -> str:
            clock = time.localtime(self.started_at.timestamp() + seconds)
            return f"{time.strftime('%H:%M:%S', clock)} (+{seconds:.0f} s)"

        say = self.c.say
        if promoted:
            say("expected     already promoted: no evidence phase needed")
        else:
            if evidence:
                say(f"expected     {evidence} DRY_RUN windows already on record count too")
            say(f"expected     promotion ≈ {at(when.promotion_s)}")
        say(
            f"expected     first LIVE order ≈ {at(when.live_order_s)}, "
            f"first LIVE settled ≈ {at(when.live_settled_s)}"
        )
        say("")

    def _banner(self, base: str) -> None:
        say = self.c.say
        say("")
        say(f"sandbox      {base}   (state: {base}/_sandbox/state)")
        say(f"runner       {self.health_url}   (updown status)")
        if self.c.dashboard:
            say(f"dashboard    http://127.0.0.1:{self.c.dashboard_port}/   (starting)")
            if getattr(self, "login", None):
                user, password = self.login
                say(f"log in       user {user}, password {password}   (this run only)")
        say(f"logs         {REPO / '.updown'}/demo-*.log")
        say("")
        say("What to look at: the dashboard's Command Center shows the SANDBOX badge, the LIVE")
        say("canary and its PAPER and DRY_RUN copies side by side. Try `updown control pause`")
        say("(or the PAUSE button) and watch the trading state change. Ctrl-C stops everything.")
        say("")
