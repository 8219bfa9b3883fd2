"""The operator's processes, as the operator starts them: `updown sandbox` and `updown run` as
subprocesses of a given installation (`bin_dir/updown`), their logs in files, polled (never
slept) until they answer, stopped with the signals the CLI handles. Used by the core-install
test (tests/test_packaging.py) and the kill-switch benchmark (bench/cli_latency.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen


class ProcessError(RuntimeError):
    """A process exited or did not answer in time; the message quotes the end of its log."""


class Operator:
    """Runs `updown …` from one installation with one environment; remembers what it started
    and stops all of it on `close()` (runner first, with SIGINT, as Ctrl-C would)."""

    def __init__(self, bin_dir: Path, env: dict[str, str], workdir: Path) -> None:
        self.updown = str(bin_dir / "updown")
        self.env = env
        self.workdir = workdir
        self.started: dict[str, tuple[subprocess.Popen, Path]] = {}

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """`updown ARGS` to completion; stdout and stderr captured as text."""
        return subprocess.run(
            [self.updown, *args], cwd=self.workdir, env=self.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        handle = log.open("w")
        proc = subprocess.Popen(
            [self.updown, *args], cwd=self.workdir, env={**self.env, "PYTHONUNBUFFERED": "1"},
            stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        handle.close()
        self.started[name] = (proc, log)
        return proc

    def start_sandbox(self, *args: str, timeout: float = 60) -> str:
        """`updown sandbox --port 0 ARGS`; returns its base URL once it serves."""
        self.start("sandbox", "sandbox", "--port", "0", *args)
        log = self.workdir / "sandbox.log"

        def base_url() -> str | None:
            for line in log.read_text().splitlines():
                if line.startswith("state"):
                    return line.split()[1].removesuffix("/_sandbox/state")
            return None

        base = self.wait("sandbox", base_url, "the sandbox's URLs", timeout)
        self.wait("sandbox", lambda: get_json(f"{base}/_sandbox/state"), "the sandbox", timeout)
        return base

    def start_runner(self, sandbox_url: str, health_port: int, *args: str, timeout: float = 90):
        """`updown run --mode paper --venue sandbox …`; returns its /health URL once the runner
        has started (a trading state other than STARTING)."""
        self.start(
            "runner", "run", "--mode", "paper", "--venue", "sandbox", "--sandbox-url",
            sandbox_url, "--health-port", str(health_port), *args,
        )  # fmt: skip
        url = f"http://127.0.0.1:{health_port}/health"

        def started() -> bool:
            return (get_json(url) or {}).get("trading_state", "STARTING") != "STARTING"

        self.wait("runner", started, f"a trading state on {url}", timeout)
        return url

    def wait(self, name: str, probe: Callable[[], Any], what: str, timeout: float = 10) -> Any:
        """Poll `probe()` every 50 ms until truthy; ProcessError if process `name` exits first
        or time runs out."""
        proc, log = self.started[name]
        return wait_for(probe, timeout, proc, log, what)

    def close(self) -> None:
        for name, (proc, _) in sorted(self.started.items(), key=lambda s: s[0] != "runner"):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT if name == "runner" else signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
        self.started.clear()


@contextlib.contextmanager
def operator(bin_dir: Path, env: dict[str, str], workdir: Path) -> Iterator[Operator]:
    op = Operator(bin_dir, env, workdir)
    try:
        yield op
    finally:
        op.close()


def get_json(url: str, timeout: float = 2.0) -> Any:
    """The JSON body at `url`, or None if it does not answer (yet)."""
    try:
        with urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (URLError, OSError, ValueError):
        return None


def wait_for(probe: Callable[[], Any], timeout: float, proc, log: Path, what: str) -> Any:
    """Poll `probe()` every 50 ms until truthy; ProcessError if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text().splitlines()[-15:])
            state = f"exited {proc.returncode}" if proc.poll() is not None else "timed out"
            raise ProcessError(f"waiting for {what}: {state}; log tail:\n{tail}")
        time.sleep(0.05)
