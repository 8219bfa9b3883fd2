"""`updown demo` (the main job): it announces its timeline in its first lines, then starts the
sandbox and the live runner against the database and walks the whole path in front of you —
real DRY_RUN windows settle, the gate promotes the canary, LIVE orders reach the sandbox and
settle — and on Ctrl-C lets the open LIVE positions settle before it stops all of it. The
expected timeline is a pure function of the window schedule, checked by hand here."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest

from live.promotion import status as promotion_status
from research import gate
from tests_support import free_port
from updown.demo import REPO
from updown.demo_path import DemoPath
from updown.demo_timeline import (
    EVIDENCE_WINDOWS,
    announcement,
    entries,
    expected,
    tradable,
)

START = 1_800_000_000  # a multiple of 60 s: every window length below starts a window here
STEP = re.compile(r"^\+\s*(\d+) s  (\S+)\s+(.*)$")


# ---------------------------------------------------------------- the expected timeline


def test_evidence_count_is_the_gate_s():
    assert EVIDENCE_WINDOWS == gate.WINDOWS_REQUIRED


def test_windows_too_short_for_an_entry_before_the_cutoff_are_not_tradable():
    # half of 10 s is exactly the 5 s entry cutoff: the canary would be denied WINDOW_NOT_OPEN
    assert not tradable(10) and tradable(11) and tradable(15) and tradable(300)


def test_entries_fall_at_half_a_short_window_and_t_minus_60_on_long_ones():
    found = entries((20, 300), START + 8, START + 300)
    assert [(e.entry_s - START, e.close_s - START) for e in found][:3] == [
        (10, 20),
        (30, 40),
        (50, 60),
    ]
    assert (240, 300) in [(e.entry_s - START, e.close_s - START) for e in found]


def test_expected_timeline_of_a_fresh_database_worked_by_hand():
    # ready at +8: 15 s windows enter at +22.5, +37.5, +52.5 (the one at +7.5 is missed), 20 s
    # windows at +10, +30, +50, the 60 s one at +30. Each settles 2 s (venue) + 2 s (poll)
    # after its close: 4 windows at +24, 8 at +34, 12 at +44 -> the 10th at +44, promotion +46.
    # The first LIVE entry after +46 is the 20 s window's at +50 (order +51); the first LIVE
    # settlement is of a window closing at +60 (+64).
    when = expected(START, (15, 20, 60), 4, 2.0, ready_s=8.0)
    assert (when.promotion_s, when.live_order_s, when.live_settled_s) == (46, 51, 64)


def test_expected_timeline_counts_evidence_already_on_record_and_a_valid_promotion():
    two_short = expected(START, (15, 20, 60), 4, 2.0, ready_s=8.0, evidence=8)
    assert (two_short.promotion_s, two_short.live_order_s, two_short.live_settled_s) == (
        26,
        31,
        44,
    )
    promoted = expected(START, (15, 20, 60), 4, 2.0, ready_s=8.0, promoted=True)
    assert (promoted.promotion_s, promoted.live_order_s, promoted.live_settled_s) == (0, 11, 24)


def test_the_announcement_says_what_starts_and_when_each_step_comes():
    when = expected(START, (15, 20, 60), 4, 2.0, ready_s=8.0)
    lines = announcement((15, 20, 60), ("BTC", "ETH"), when, dashboard=True)
    text = "\n".join(lines)
    assert "BTC,ETH; windows of 15 s, 20 s and 60 s" in text and "the dashboard" in text
    assert "~45 s      10 DRY_RUN windows settled cleanly" in text
    assert "~50 s      first LIVE order" in text and "~65 s      first LIVE position" in text
    assert "~75 s      first redemption confirmed" in text and "not built yet" not in text


@pytest.mark.parametrize("lengths", ["10", "15,10", "abc", "15,15", "0"])
def test_window_lengths_the_canary_cannot_trade_are_refused_in_one_line(lengths):
    result = subprocess.run(
        [sys.executable, "-m", "updown.cli", "demo", "--window-seconds", lengths],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: --window-seconds {lengths!r}")
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- the demo, end to end


class Lines:
    """The demo's stdout, line by line, with the seconds since the start each line arrived."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.seen: list[str] = []
        self.errors: list[str] = []  # stderr, drained: an unread full pipe blocks the demo
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        if proc.stderr is not None:
            threading.Thread(target=self._drain, args=(proc,), daemon=True).start()

    def _drain(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            self.errors.append(line.rstrip("\n"))

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, condition, timeout_s: float) -> bool:
        """Read until `condition(line)` holds for a line (True), the output ends or time runs
        out (False)."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                return False
            self.seen.append(line)
            if condition(line):
                return True
        return False


CASH = re.compile(r"redeemed [1-9]\d* \(\$\d+\.\d\d cash; awaiting \d+, \$\d+\.\d\d\)")


def steps(lines: list[str]) -> dict[str, int]:
    """The path's steps said by the demo: `PROMOTED`, `first order`, ... -> seconds."""
    found: dict[str, int] = {}
    for line in lines:
        m = STEP.match(line)
        if m is None:
            continue
        seconds, tag, text = int(m[1]), m[2], m[3]
        key = tag if tag != "LIVE" else " ".join(text.split()[:2])
        found.setdefault(key, seconds)
    return found


@pytest.mark.xdist_group("demo")
def test_demo_walks_the_whole_path_to_a_settled_live_position_and_stops_cleanly(db_url):
    sandbox_port, health_port = free_port(), free_port()
    env = {**os.environ, "UPDOWN_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
    args = ["--no-dashboard", "--sandbox-port", str(sandbox_port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "updown.cli", "demo", "--duration", "300", *args]
        + ["--health-port", str(health_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = Lines(proc)
    try:
        settled = lines.until(lambda line: "first position settled" in line, timeout_s=240)
        redeemed = lines.until(lambda line: "first redemption confirmed" in line, timeout_s=90)
        cash_line = lines.until(lambda line: CASH.search(line) is not None, timeout_s=30)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: open LIVE positions settle, then all stops
        stopped = lines.until(lambda line: line.startswith("demo stopped"), timeout_s=150)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # The second signal stops at once, and the demo still stops its children (a killed
            # demo would leave its runner and sandbox running: they have their own sessions).
            proc.terminate()
            proc.wait(timeout=60)
    out = "\n".join(lines.seen)
    assert stopped, out + proc.stderr.read()  # Ctrl-C was heard (SIGINT ignored: issue of CI)
    assert settled, out + proc.stderr.read()
    assert proc.returncode == 0, out + proc.stderr.read()

    # the first lines announce what starts and when each step is expected
    head = "\n".join(lines.seen[: lines.seen.index(next(x for x in lines.seen if x == ""))])
    assert head.startswith("updown demo: ")
    assert re.search(r"~\d+ s\s+10 DRY_RUN windows settled cleanly: the gate promotes", head)
    assert re.search(r"~\d+ s\s+first LIVE order reaches the sandbox", head)
    assert re.search(r"~\d+ s\s+first LIVE position settled", head)

    # each step said once, in order, within generous bounds of the ~1 minute announced
    at = steps(lines.seen)
    assert at["evidence"] <= at["PROMOTED"] <= at["first order"] <= at["first position"]
    assert at["first order"] <= 120, out
    assert at["first position"] <= 180, out
    # the cash arrives when the redemption is confirmed (the sandbox pays nothing at resolution)
    assert redeemed and cash_line, out
    assert at["first position"] <= at["redeem"], out
    assert f"http://127.0.0.1:{sandbox_port}" in out
    assert f"http://127.0.0.1:{health_port}/health" in out
    assert "ACTIVE trader" in out  # status lines from the live runner's health
    assert "path: evidence " in out and "stopping (Ctrl-C)" in out and "demo stopped" in out
    _the_records_show_the_same_path(db_url)


def _the_records_show_the_same_path(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        controls = dict(conn.execute("SELECT key, value FROM runtime_controls").fetchall())
        roles = conn.execute("SELECT role FROM instances").fetchall()
        windows = conn.execute("SELECT count(*) FROM windows").fetchone()[0]
        audit = conn.execute(
            "SELECT count(*) FROM control_changes WHERE changed_by = 'demo'"
        ).fetchone()[0]
        promoted_ts, checks = conn.execute(
            "SELECT ts, checks FROM promotions WHERE strategy = 'always-trade-canary' "
            "AND target = 'paper'"
        ).fetchone()
        evidence = conn.execute(
            "SELECT count(DISTINCT p.window_slug) FROM positions p JOIN settlements s "
            "ON s.window_slug = p.window_slug AND s.mode = p.mode AND s.run_id = p.run_id "
            "WHERE p.mode = 'DRY_RUN' AND p.state = 'CLOSED' AND s.agreement = 'agree' "
            "AND p.closed_ts <= %s",
            (promoted_ts,),
        ).fetchone()[0]
        first_live = conn.execute(
            "SELECT min(created_ts) FROM orders WHERE mode = 'LIVE'"
        ).fetchone()[0]
        denied_before = conn.execute(
            "SELECT count(*) FROM decisions WHERE mode = 'LIVE' AND code = 'NOT_PROMOTED' "
            "AND ts < %s",
            (promoted_ts,),
        ).fetchone()[0]
        settled_live, open_live = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'CLOSED' AND resolution IS NOT NULL), "
            "count(*) FILTER (WHERE state <> 'CLOSED') FROM positions WHERE mode = 'LIVE'"
        ).fetchone()
    assert controls["trading_mode"] == "LIVE" and audit >= 1
    assert roles == [("stopped",)]  # the runner shut down and said so
    assert windows >= 2
    # the gate passed on real DRY_RUN windows this demo's copy traded and settled, all checks ok
    assert all(c["ok"] for c in checks) and evidence >= gate.WINDOWS_REQUIRED
    # LIVE entries were denied until the promotion, and LIVE orders came only after it
    assert denied_before >= 1 and first_live > promoted_ts and settled_live >= 1
    # nothing left open that the next demo's new sandbox would not hold (its reconciliation)
    assert open_live == 0


# ---------------------------------------------------------------- the path watcher on the record


def _promote_canary(conn: psycopg.Connection, repo) -> int:
    """A paper promotion row as the gate records it, bound to the file as it is."""
    path = repo / "preregistrations" / "canary.yaml"
    result = gate.GateResult(
        "always-trade-canary",
        "paper",
        (gate.Check("clean_windows", True, "stated for this test"),),
        "preregistrations/canary.yaml",
        promotion_status.file_sha256(path),
        "0" * 40,
    )
    return gate.record(conn, result)


def test_a_promotion_on_record_is_said_at_the_start_and_its_revocation_when_it_happens(db_url):
    said: list[str] = []
    with psycopg.connect(db_url) as conn:
        promotion_id = _promote_canary(conn, REPO)
    path = DemoPath(db_url, REPO, datetime.now(UTC), said.append, time.monotonic())
    record = path.begin()
    assert record.promotion is not None and record.promotion.promotion_id == promotion_id
    assert said == [
        f"record       the canary holds a valid paper promotion #{promotion_id} (recorded "
        f"{record.promotion.promoted_at:%Y-%m-%d %H:%M}): LIVE orders from the first window"
    ]
    path.poll()
    assert len(said) == 1 and f"gate promoted #{promotion_id}" in path.phrase()
    with psycopg.connect(db_url) as conn, conn.transaction():
        promotion_status.revoke(conn, "always-trade-canary", "kill criterion hit: max drawdown")
    path.poll()
    path.poll()
    revoked = [line for line in said if "REVOKED" in line]
    assert len(revoked) == 1 and "kill criterion hit: max drawdown" in revoked[0]
    assert f"gate REVOKED #{promotion_id}" in path.phrase()
    assert "promoted on record" in path.summary()


# ---------------------------------------------------------------- a demo stopped, then run again


def _demo(db_url: str, sandbox_port: int, health_port: int) -> tuple[subprocess.Popen, Lines]:
    env = {**os.environ, "UPDOWN_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "updown.cli", "demo", "--duration", "600", "--no-dashboard"]
        + ["--sandbox-port", str(sandbox_port), "--health-port", str(health_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, Lines(proc)


def _owed_live(db_url: str) -> set[int]:
    """LIVE positions not settled to cash: open, or closed with their redemption pending."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT position_id FROM positions WHERE mode = 'LIVE' AND state <> 'CLOSED' "
            "UNION SELECT position_id FROM redemptions WHERE mode = 'LIVE' AND status = 'PENDING'"
        ).fetchall()
    return {row[0] for row in rows}


def _stop(proc: subprocess.Popen, lines: Lines, at_once: bool) -> bool:
    """Ctrl-C (twice when `at_once`: the second one skips the wait for open positions); True
    once the demo said it stopped."""
    proc.send_signal(signal.SIGINT)
    waiting = lambda line: "new entries paused; waiting" in line  # noqa: E731
    done = lambda line: line.startswith("demo stopped")  # noqa: E731
    if at_once and lines.until(lambda line: waiting(line) or done(line), 30):
        if done(lines.seen[-1]):
            return True
        proc.send_signal(signal.SIGINT)
    stopped = lines.until(done, timeout_s=150)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=60)
    return stopped


@pytest.mark.xdist_group("demo")
def test_a_demo_stopped_with_live_positions_open_is_settled_by_the_next_demo(db_url):
    """Issue 15: run the demo, stop it at once while LIVE positions are open, run it again.
    The venue keeps what the first run held (its sandbox stays up, as a real venue would), the
    second run's runner adopts those positions and settles them to cash, and it stops its
    sandbox when nothing is left owed."""
    import psutil

    sandbox_port, health_port = free_port(), free_port()
    kept = None
    try:
        proc, lines = _demo(db_url, sandbox_port, health_port)
        try:
            ordered = lines.until(
                lambda line: (
                    (m := STEP.match(line)) is not None
                    and m[2] == "LIVE"
                    and m[3].startswith("first order")
                ),
                timeout_s=240,
            )
        finally:
            stopped = _stop(proc, lines, at_once=True)
        first = "\n".join(lines.seen)
        assert ordered and stopped and proc.returncode == 0, first + proc.stderr.read()
        assert "stopping now: open LIVE positions stay open in the records" in first
        said = re.search(r"the sandbox keeps running \(pid (\d+), port (\d+)\)", first)
        assert said is not None and int(said[2]) == sandbox_port, first
        kept = psutil.Process(int(said[1]))  # now, while it runs: is_running() knows it later
        assert kept.is_running() and "sandbox" in kept.cmdline()
        assert "demo stopped: runner and dashboard are down" in first
        left = _owed_live(db_url)
        assert left, "the first run was stopped with nothing owed: nothing to prove"

        proc, lines = _demo(db_url, sandbox_port, health_port)
        try:
            reused = lines.until(lambda line: "reusing the sandbox the last demo" in line, 60)
            deadline = time.monotonic() + 150
            while (owed := left & _owed_live(db_url)) and time.monotonic() < deadline:
                time.sleep(1)
        finally:
            stopped = _stop(proc, lines, at_once=False)
        second = "\n".join(lines.seen)
        assert reused and stopped and proc.returncode == 0, second + proc.stderr.read()
        assert "on the sandbox it left running: the runner adopts them" in second
        assert not owed, f"positions the first run left were not settled to cash: {owed}"
        with psycopg.connect(db_url) as conn:
            settled = conn.execute(
                "SELECT count(*) FROM positions WHERE position_id = ANY(%s) AND state = 'CLOSED' "
                "AND resolution IS NOT NULL AND pnl_net IS NOT NULL",
                (sorted(left),),
            ).fetchone()[0]
            roles = conn.execute("SELECT role FROM instances ORDER BY 1").fetchall()
        assert settled == len(left)
        assert roles == [("stopped",), ("stopped",)], roles
        assert "demo stopped: runner, dashboard and sandbox are down" in second, second
        assert not kept.is_running() or kept.status() == psutil.STATUS_ZOMBIE
    finally:
        if kept is not None and kept.is_running():
            with contextlib.suppress(psutil.Error):
                kept.kill()


def _demo_on(port: int, said: list[str]):
    from updown.demo import Demo, DemoConfig

    return Demo(DemoConfig(sandbox_port=port, say=said.append, dashboard=False))


def test_a_stale_or_malformed_venue_record_is_dropped_and_never_signals_its_pid(
    tmp_path, monkeypatch
):
    """The record of a kept sandbox names a pid; after a reboot that pid may be anything (here:
    this very test process). It is recognised only with its creation time and command line, so
    the record is dropped and nothing is signalled; a malformed record is dropped and said."""
    import json

    import updown.demo as demo_module

    monkeypatch.setattr(demo_module, "VENUE_RECORDS", tmp_path)
    said: list[str] = []
    demo = _demo_on(18_999, said)
    record = {
        "port": 18_999, "seed": 42, "assets": ["BTC", "ETH", "SOL", "XRP"],
        "window_seconds": [15, 20, 60], "pid": os.getpid(), "created": 1.0,
        "since": "2026-12-01T03:00:00+00:00",
    }  # fmt: skip
    path = tmp_path / "demo-venue-18999.json"
    path.write_text(json.dumps(record))
    assert demo._kept_venue("http://127.0.0.1:18999") is None
    assert not path.exists() and said == []
    path.write_text("{not json")
    assert demo._kept_venue("http://127.0.0.1:18999") is None
    assert not path.exists() and said[0].startswith("sandbox      ignoring demo-venue-18999.json")


def test_a_new_sandbox_is_refused_on_a_port_something_already_listens_on():
    """Else the demo's readiness check would be answered by whatever listens there."""
    import socket

    from updown.demo import DemoError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DemoError, match=f"port {port} is in use"):
            _demo_on(port, [])._spawn_sandbox(f"http://127.0.0.1:{port}")
