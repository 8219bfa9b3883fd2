"""Helpers for driving the cockpit in headless Chromium (tests and bench/dashboard.py).

Uses Debian's chromium (`executable_path`), never a Playwright browser download.
"""

from __future__ import annotations

import socket
import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_http(url: str, timeout_s: float = 30.0) -> None:
    """Block until `url` answers (the threaded Panel server is up)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def open_cockpit(page, base_url: str, timeout_ms: int = 30000) -> None:
    """Load the cockpit and wait until the Command Center has rendered its sections."""
    page.goto(base_url + "/")
    page.get_by_text("ACTIVITY FEED").wait_for(timeout=timeout_ms)
    page.locator(".ud-activity, .ud-activity-none").first.wait_for(timeout=timeout_ms)


def show_tab(page, name: str) -> None:
    page.locator(".bk-tab", has_text=name).click()
