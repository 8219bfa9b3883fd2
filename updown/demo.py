"""`updown demo`: the main job on one machine. Embedded PostgreSQL (unless UPDOWN_DATABASE_URL),
the sandbox exchange with short windows, the live runner trading the canary LIVE against the
sandbox with PAPER and DRY_RUN copies beside it, and the dashboard. The demo walks the promotion
path in front of you: LIVE entries are denied NOT_PROMOTED until the DRY_RUN copy has 10 clean
settled windows, then the gate promotes the canary to paper (the sandbox's rung) and LIVE
trading starts. Ctrl-C stops everything cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from live.promotion.status import has_valid_promotion
from live.store import controls as control_store
from live.store import migrate
from live.store.db import database_url, mask_url
from research import gate

REPO = Path(__file__).resolve().parents[1]
STRATEGY = "canary"


@dataclass
class DemoConfig:
    duration_s: float | None = None
    sandbox_port: int = 8701
    health_port: int = 8711
    dashboard_port: int = 5006
    assets: str = "BTC,ETH,SOL,XRP"
    window_seconds: str = "60,300"
    settle_delay_s: float = 5.0
    seed: int = 42
    dashboard: bool = True
    status_every_s: float = 10.0
    say: callable = field(default=print)


class DemoError(RuntimeError):
    """Something the demo needs could not be started; the message says what."""


class Demo:
    def __init__(self, config: DemoConfig) -> None:
        self.c = config
        self.procs: dict[str, subprocess.Popen] = {}
        self.url = ""
        self.promoted = False
        self._last_gate = ""

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> int:
        try:
            self.start()
            self.watch()
        except KeyboardInterrupt:
            self.c.say("\nstopping (Ctrl-C)…")
        finally:
            self.stop()
        return 0

    def start(self) -> None:
        say = self.c.say
        self.url = database_url()
        migrate.migrate(self.url)
        say(f"database     {mask_url(self.url)}")
        self.env = {**os.environ, "UPDOWN_DATABASE_URL": self.url, "PYTHONUNBUFFERED": "1"}
        base = f"http://127.0.0.1:{self.c.sandbox_port}"
        self._spawn(
            "sandbox",
            "sandbox",
            "--port",
            str(self.c.sandbox_port),
            "--seed",
            str(self.c.seed),
            "--assets",
            self.c.assets,
            "--window-seconds",
            self.c.window_seconds,
            "--settle-delay",
            str(self.c.settle_delay_s),
        )
        self._wait_http("sandbox", f"{base}/_sandbox/state")
        self._prepare_controls()
        self._spawn(
            "runner",
            "run",
            "--mode",
            "live",
            "--venue",
            "sandbox",
            "--sandbox-url",
            base,
            "--copies",
            "paper,dry-run",
            "--assets",
            self.c.assets,
            "--window-seconds",
            self.c.window_seconds,
            "--health-port",
            str(self.c.health_port),
        )
        self._wait_http("runner", self.health_url, timeout_s=90)
        if self.c.dashboard:
            self._spawn("dashboard", "dashboard", "--port", str(self.c.dashboard_port))
            self._wait_http("dashboard", f"http://127.0.0.1:{self.c.dashboard_port}/", timeout_s=90)
        self._banner(base)

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

    def _spawn(self, name: str, *args: str) -> None:
        log = REPO / ".updown" / f"demo-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = log.open("w")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "updown.cli", *args],
            cwd=REPO,
            env=self.env,
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
        """Runner first (SIGINT: it cancels pending entries and flushes), then the others."""
        for name in ("runner", "dashboard", "sandbox"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGINT if name == "runner" else signal.SIGTERM)
            try:
                proc.wait(timeout=30 if name == "runner" else 10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.c.say(
            "demo stopped: runner, dashboard and sandbox are down; the database keeps "
            "every record (updown db url)"
        )

    # ------------------------------------------------------------------ watching

    def watch(self) -> None:
        started = time.monotonic()
        while self.c.duration_s is None or time.monotonic() - started < self.c.duration_s:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise DemoError(
                        f"{name} stopped unexpectedly (exit {proc.returncode}); "
                        f"see .updown/demo-{name}.log"
                    )
            if not self.promoted:
                self._try_promotion()
            self._status_line()
            time.sleep(self.c.status_every_s)

    def _try_promotion(self) -> None:
        with psycopg.connect(self.url) as conn:
            if any(
                has_valid_promotion(conn, "always-trade-canary", REPO, t) for t in ("paper", "live")
            ):
                self.promoted = True
                return
            result = gate.evaluate(conn, REPO, STRATEGY, "paper")
            if result.passed:
                gate.record(conn, result)
                self.promoted = True
                self.c.say(
                    "PROMOTED     the canary passed the gate to paper (10 clean DRY_RUN "
                    "windows): LIVE trading on the sandbox starts now"
                )
                return
        failing = next(c for c in result.checks if not c.ok)
        text = f"gate         not yet: {failing.name}: {failing.evidence}"
        if text != self._last_gate:
            self._last_gate = text
            self.c.say(text)

    def _status_line(self) -> None:
        try:
            h = httpx.get(self.health_url, timeout=2).json()
        except (httpx.HTTPError, ValueError):
            self.c.say("runner       health endpoint unreachable")
            return
        engines = "  ".join(
            f"{e['mode']}: {e['open_positions']} open / {e['closed_positions']} closed, "
            f"net {e['session_pnl']['net']}"
            for e in h["engines"]
        )
        feeds = sum(1 for f in h["feeds"].values() if f["status"] == "green")
        self.c.say(
            f"{time.strftime('%H:%M:%S')}     {h['trading_state']} {h['lock']['role']}  "
            f"feeds {feeds}/{len(h['feeds'])} green  {engines}"
        )

    def _banner(self, base: str) -> None:
        say = self.c.say
        say("")
        say(f"sandbox      {base}   (state: {base}/_sandbox/state)")
        say(f"runner       {self.health_url}   (updown status)")
        if self.c.dashboard:
            say(f"dashboard    http://127.0.0.1:{self.c.dashboard_port}/")
        say(f"logs         {REPO / '.updown'}/demo-*.log")
        say("")
        say("What to look at: the dashboard's Command Center shows the SANDBOX badge, the LIVE")
        say("canary and its PAPER and DRY_RUN copies side by side. LIVE entries are denied")
        say("NOT_PROMOTED until 10 DRY_RUN windows have settled cleanly; then the gate promotes")
        say("the canary and LIVE orders reach the sandbox. Try `updown control pause` (or the")
        say("PAUSE button) and watch the trading state change. Ctrl-C stops everything.")
        say("")
