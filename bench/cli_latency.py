"""CLI start-up and the kill switch end to end (issue 19). Prints figures; not a test.

1. Start-up: `updown --help`, `updown control show` and `updown status` (against a running
   runner), each run N times as a whole process, as an operator types it: wall time from just
   before the process starts until it has exited, and its CPU time (user + system, the part a
   loaded machine cannot inflate). Target: p99 <= 0.5 s.
2. The kill switch: a sandbox and a PAPER runner started with the CLI; then, 20 times,
   `updown control pause` as a subprocess, timed from just before it starts until the runner's
   /health reports PAUSED (polled every 5 ms), then `updown control resume` until ACTIVE.
   Split at the commit (the command prints `kill_switch: off -> pause` right after it): the
   command's start-up, connection and write, then NOTIFY -> runner -> /health (5 ms polls).
   Target: p99 <= 0.5 s.

Database: UPDOWN_DATABASE_URL, else the embedded server; a scratch database is created and
dropped. Usage: .venv/bin/python bench/cli_latency.py [--runs N] [--tries N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import psycopg  # noqa: E402
from machine import machine  # noqa: E402

from live.store import db, migrate  # noqa: E402
from process_kit import get_json, operator  # noqa: E402
from tests_support import free_port  # noqa: E402

BIN = Path(sys.executable).parent
TARGET_S = 0.5


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, wall_s: list[float], cpu_s: list[float] | None = None, target=True) -> None:
    p50, p99 = pct(wall_s, 0.50), pct(wall_s, 0.99)
    cpu = f"; cpu p50={pct(cpu_s, 0.5) * 1000:.0f} ms" if cpu_s else ""
    verdict = "met" if p99 <= TARGET_S else "NOT met"
    goal = f"; target p99 <= {TARGET_S * 1000:.0f} ms: {verdict}" if target else ""
    print(
        f"{name}: n={len(wall_s)} wall p50={p50 * 1000:.0f} ms p99={p99 * 1000:.0f} ms "
        f"max={max(wall_s) * 1000:.0f} ms mean={statistics.fmean(wall_s) * 1000:.0f} ms{cpu}{goal}"
    )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, cpu s) of one whole `updown ARGS` process."""
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run([str(BIN / "updown"), *args], env=env, capture_output=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"updown {' '.join(args)} exited {done.returncode}: {done.stderr!r}")
    return wall, children_cpu() - cpu0


def startup(name: str, args: list[str], env: dict[str, str], runs: int) -> None:
    timed(args, env)  # warm-up: bytecode and page cache
    samples = [timed(args, env) for _ in range(runs)]
    report(f"start-up `updown {name}`", [w for w, _ in samples], [c for _, c in samples])


def flip(env: dict[str, str], command: str, health: str, wanted: str) -> tuple[float, float]:
    """`updown control COMMAND` until /health shows `wanted`: (total s, s until the command
    printed its `kill_switch: old -> new` line, which it does right after the commit)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "updown"), "control", command], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    written: list[float] = []
    reader = threading.Thread(target=lambda: written.append(_line_time(proc, t0)), daemon=True)
    reader.start()
    while (get_json(health) or {}).get("trading_state") != wanted:
        if time.perf_counter() - t0 > 30:
            raise RuntimeError(f"the runner never reported {wanted}")
        time.sleep(0.005)
    total = time.perf_counter() - t0
    if proc.wait(timeout=30) != 0:
        raise RuntimeError(f"control {command} exited {proc.returncode}: {proc.stderr.read()}")
    reader.join(timeout=30)
    return total, written[0]


def _line_time(proc: subprocess.Popen, t0: float) -> float:
    proc.stdout.readline()
    return time.perf_counter() - t0


def kill_switch(env: dict[str, str], tries: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, operator(BIN, env, Path(tmp)) as op:
        sandbox = op.start_sandbox("--assets", "BTC", "--window-seconds", "60")
        health = op.start_runner(sandbox, free_port(), "--assets", "BTC", "--window-seconds", "60")
        startup("status", ["status", "--url", health], env, runs)
        flip(env, "pause", health, "PAUSED")  # warm-up
        flip(env, "resume", health, "ACTIVE")
        pauses, resumes = [], []
        for _ in range(tries):
            pauses.append(flip(env, "pause", health, "PAUSED"))
            resumes.append(flip(env, "resume", health, "ACTIVE"))
    report("kill switch `updown control pause` -> PAUSED on /health", [t for t, _ in pauses])
    report("  start -> committed (the command's start-up, connect, write)",
           [w for _, w in pauses], target=False)  # fmt: skip
    report("  committed -> PAUSED on /health (NOTIFY, runner, poll)",
           [max(0.0, t - w) for t, w in pauses], target=False)  # fmt: skip
    report("`updown control resume` -> ACTIVE on /health", [t for t, _ in resumes])


@contextmanager
def scratch_database():
    admin = os.environ.get(db.ENV_URL) or db.embedded_url(REPO / ".updown")
    name = f"updown_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = db.with_database(admin, name)
    try:
        migrate.migrate(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="start-up runs per command")
    parser.add_argument("--tries", type=int, default=20, help="kill-switch pause/resume pairs")
    args = parser.parse_args()
    print(machine())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with scratch_database() as url:
        env = {**os.environ, db.ENV_URL: url}
        startup("--help", ["--help"], env, args.runs)
        startup("control show", ["control", "show"], env, args.runs)
        kill_switch(env, args.tries, args.runs)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
