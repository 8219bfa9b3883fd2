"""Cockpit benchmark: event → on-screen latency with 1 and 20 open sessions, server memory/session.

Creates a throwaway database on the server at UPDOWN_DATABASE_URL (or the embedded one), fills it
with the test seed (tests/dashboard_seed.py), serves the cockpit in-process, opens N Chromium
pages on the Command Center, inserts fills one at a time and measures how long until the new
fill's id is visible on every page. Memory is the server process's RSS growth per session
(Chromium runs in separate processes and is not counted).

The latency is split in two: "server" is from the commit until the last session's periodic
tick has rendered the new snapshot (the poller's read plus every session's Python-side update,
all on the server's one event loop); "browser" is the rest (Bokeh patches over the websocket
and N Chromium pages re-rendering, on the same machine).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import psutil
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from dashboard_seed import seeded_database  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from live.store import db, migrate  # noqa: E402
from panel_app import app as cockpit_app  # noqa: E402
from panel_app import poller  # noqa: E402
from panel_app.app import serve  # noqa: E402
from panel_app.auth import AuthConfig  # noqa: E402
from panel_app.testing import free_port, launch_chromium, open_cockpit, wait_http  # noqa: E402

ROUNDS = 5
RENDERED: list[float] = []  # monotonic times at which a session's tick rendered new events


def _instrument() -> None:
    """Record when each session's tick finished rendering a new events version."""
    tick = cockpit_app.Page.tick

    def timed(page) -> None:
        before = page._seen
        tick(page)
        if page._seen[1] != before[1]:
            RENDERED.append(time.monotonic())

    cockpit_app.Page.tick = timed


def template(admin_url: str) -> str:
    name = "updown_bench_tmpl"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate.migrate(db.with_database(admin_url, name))
    return name


def insert_fill(url: str, coid: str) -> str:
    fill_id = f"bench-{time.time_ns()}"
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO fills (fill_id, client_order_id, mode, ts, price, shares, fee) "
            "VALUES (%s, %s, 'PAPER', now(), 0.55, 0.10, 0)",
            (fill_id, coid),
        )
    return fill_id


def latency(url: str, pages, coid: str) -> tuple[float, float]:
    """Seconds from the fill's commit until its id is visible on every page, and until the
    server had rendered it for every session."""
    time.sleep(1.5)  # let the previous round's renders finish
    RENDERED.clear()
    fill_id = insert_fill(url, coid)
    start = time.monotonic()
    for page in pages:
        page.locator(f'.ud-activity[data-ref="FILL:{fill_id}"]').wait_for(timeout=10000)
    done = time.monotonic() - start
    renders = [t - start for t in RENDERED if t >= start][: len(pages)]
    return done, max(renders) if len(renders) == len(pages) else float("nan")


def run(url: str, browser, base: str, sessions: int, proc: psutil.Process) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    rss_before = proc.memory_info().rss
    pages = []
    for _ in range(sessions):
        page = context.new_page()
        open_cockpit(page, base, timeout_ms=60000)
        pages.append(page)
    time.sleep(2)
    rss_after = proc.memory_info().rss
    with psycopg.connect(url) as conn:
        (coid,) = conn.execute(
            "SELECT client_order_id FROM orders WHERE state='FILLED' LIMIT 1"
        ).fetchone()
    pairs = [latency(url, pages, coid) for _ in range(ROUNDS)]
    samples = [a for a, _ in pairs]
    context.close()
    return {
        "sessions": sessions,
        "median_s": statistics.median(samples),
        "server_median_s": statistics.median(b for _, b in pairs),
        "max_s": max(samples),
        "mem_per_session_mb": (rss_after - rss_before) / sessions / 2**20,
    }


def main() -> None:
    admin = db.database_url()
    tmpl = template(admin)
    proc = psutil.Process()
    _instrument()
    with seeded_database(admin, tmpl) as url, sync_playwright() as playwright:
        port = free_port()
        thread = serve(url, port=port, auth=AuthConfig(), threaded=True)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(base + "/api/controls")
            browser = launch_chromium(playwright)
            print(f"server RSS at start: {proc.memory_info().rss / 2**20:.0f} MB")
            for sessions in (1, 20):
                r = run(url, browser, base, sessions, proc)
                print(
                    f"{r['sessions']:>2} session(s): event→screen median {r['median_s']:.3f} s, "
                    f"max {r['max_s']:.3f} s over {ROUNDS} fills (target ≤ 1 s; server side "
                    f"{r['server_median_s']:.3f} s, the rest is the browsers); "
                    f"server memory {r['mem_per_session_mb']:.1f} MB/session"
                )
            browser.close()
        finally:
            thread.stop()
            poller.stop_all()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{tmpl}" WITH (FORCE)')


if __name__ == "__main__":
    main()
