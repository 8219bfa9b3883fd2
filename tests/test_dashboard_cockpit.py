"""The cockpit tells the truth at a glance (issue 21), read in headless Chromium the way a
person reads it: the chips' colours and the words on the page.

One copy of the recorded session (tests/real_session.py) and one RUNNING runner on it (LIVE on a
fresh sandbox, with PAPER and DRY_RUN copies, like `updown demo`), one dashboard, one browser:
1. fault-free: every health chip is green, no cell on any view shows NaN/None/`$?`/`{}`, and the
   header's P&L is LIVE's alone (the P&L-by-mode LIVE row), the copies labelled beside it;
2. then a stalled feed (the price channel: its journal chip and its BTC and ETH chips), a 3 s
   clock skew and a failed assertion (the venue reports $5 more than our ledger), planted
   through the sandbox's fault API: exactly those chips turn red. (A stall of ONE asset's
   prices makes the runner reconnect the shared socket, which can cost the other asset a
   second — a true completeness hole, so the whole channel is stalled here.)
Screenshots of every view in both states go to reports/screenshots/cockpit_* (reduced copies
in docs/img/, shown in docs/dashboard.md).
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import expect, sync_playwright
from real_session import AliveRunner, copy_of, drop, real_session  # noqa: F401 - fixture
from runner_kit import Faults

from live.store import controls
from panel_app import poller
from panel_app.app import TAB_NAMES, serve
from panel_app.auth import AuthConfig
from panel_app.testing import free_port, launch_chromium, open_cockpit, show_tab, wait_http

pytestmark = [pytest.mark.xdist_group("real_session"), pytest.mark.slow, pytest.mark.isolated]
SHOTS = Path(__file__).resolve().parents[1] / "reports" / "screenshots"  # docs/img: reduced copies
BROKEN = re.compile(r"\bNaN\b|\bNone\b|\$\?|\{\}|\bnan\b")
CHIP = ".ud-health .ud-chip"


def sql(url: str, query: str, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


@pytest.fixture(scope="module")
def recorded(pg_admin_url, real_session):  # noqa: F811
    url = copy_of(pg_admin_url, real_session)
    with psycopg.connect(url) as conn:
        controls.write(conn, "kill_switch", "off", "test-setup")
    try:
        yield url
    finally:
        poller.stop_all()
        drop(pg_admin_url, url)


@pytest.fixture(scope="module")
def alive(recorded):
    with AliveRunner(recorded, copies=("paper", "dry-run")) as runner:
        deadline = time.monotonic() + 60
        while not _trading(runner):
            assert time.monotonic() < deadline, "the runner did not trade a LIVE window"
            time.sleep(0.5)
        yield runner


def _trading(runner: AliveRunner) -> bool:
    """ACTIVE, a LIVE fill and a settled window this session: every chip has something to say."""
    state = httpx.get(runner.health_url, timeout=2).json()
    rows = sql(
        runner.url,
        """SELECT (SELECT count(*) FROM fills WHERE mode = 'LIVE' AND ts >= i.started_at),
                  (SELECT count(*) FROM settlements WHERE ts >= i.started_at)
           FROM instances i WHERE i.instance_id = %s""",
        runner.runner.config.instance_id,
    )
    return state["trading_state"] == "ACTIVE" and bool(rows) and min(rows[0]) > 0


@pytest.fixture(scope="module")
def page(recorded, alive):
    port = free_port()
    auth = AuthConfig.with_passwords({"alice": "pw"})
    thread = serve(recorded, port=port, auth=auth, threaded=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/api/controls")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            the_page = context.new_page()
            open_cockpit(the_page, base)
            yield the_page
            browser.close()
    finally:
        thread.stop()
        poller.stop_all()


def chips(page) -> dict[str, str]:
    """Every health chip's text → its colour (green/yellow/red/grey), as displayed."""
    out = {}
    for chip in page.locator(CHIP).all():
        colour = re.search(r"ud-(green|yellow|red|grey)\b", chip.get_attribute("class") or "")
        out[chip.inner_text()] = colour.group(1) if colour else "none"
    return out


def shoot(page, name: str) -> None:
    for tab in TAB_NAMES:
        show_tab(page, tab)
        page.wait_for_timeout(300)  # let the tab's tables lay out before the picture
        slug = tab.lower().replace(" ", "_")
        page.screenshot(path=SHOTS / f"cockpit_{name}_{slug}.png", full_page=False)
    show_tab(page, "Command Center")


def test_fault_free_every_chip_is_green_and_every_cell_means_something(page, alive):
    show_tab(page, "Command Center")
    expect(page.locator(".ud-runner")).to_contain_text("reachable · ACTIVE", timeout=15000)
    # all green, judged as a person sees it (the waiting covers the poller's 1 s cycle)
    try:
        expect(page.locator(f"{CHIP}:not(.ud-green)")).to_have_count(0, timeout=30000)
    except AssertionError:
        raise AssertionError(f"not all green: {chips(page)}") from None
    seen = chips(page)
    assert len(seen) >= 9 and set(seen.values()) == {"green"}, {
        t: c for t, c in seen.items() if c != "green"
    }
    assert any(text.startswith("prices:BTC") for text in seen)
    assert any(text.startswith("clock ") and " ± " in text for text in seen)
    assert "assertions 10/10 OK" in seen
    for tab in TAB_NAMES:
        show_tab(page, tab)
        page.wait_for_timeout(300)
        text = page.locator("body").inner_text()
        assert not BROKEN.search(text), (tab, BROKEN.findall(text)[:5])
    show_tab(page, "Command Center")
    feed = page.locator(".ud-activity").all_inner_texts()
    for sentence in ("ORDER placed: ", "FILL confirmed: ", "ASSERTION OK: 10/10 checks passed"):
        assert any(sentence in line for line in feed), sentence
    assert any(re.search(r"WINDOW \S+ (opened|closed) \((BTC|ETH) \d+s\)", s) for s in feed)
    # the header's P&L is LIVE's: the LIVE row of P&L by mode and LIVE's money line, the
    # copies beside it, labelled
    # (a settlement between the reads changes all three: they must agree at one instant, so
    # read them together until they do, within a few of the poller's cycles)
    row = page.locator(".tabulator-row", has=page.locator(".tabulator-cell", has_text="LIVE"))
    for _ in range(20):
        header = page.locator(".ud-session-pnl").inner_text()
        live_line = page.locator('.ud-money[data-mode="LIVE"] .ud-mode-pnl').inner_text()
        net = re.search(r"net ([+-])\$([\d,.]+)", header)
        net_cell = float(row.first.locator('[tabulator-field="net"]').inner_text())
        header_net = float(net.group(2).replace(",", "")) * (-1 if net.group(1) == "-" else 1)
        if header == f"Session P&L: {live_line}" and header_net == net_cell:
            break
        page.wait_for_timeout(250)
    assert header == f"Session P&L: {live_line}"
    assert header_net == net_cell
    for copy in ("PAPER", "DRY_RUN"):
        expect(page.locator(f'.ud-money[data-mode="{copy}"]')).to_contain_text(
            f"{copy} copy (simulated)"
        )
    shoot(page, "fault_free")


def test_each_planted_fault_turns_exactly_its_chip_red(page, alive):
    faults = Faults(alive.server.base_url)
    faults.inject("stall_feed", channel="prices")  # the whole price channel: both assets
    faults.inject("clock_skew", seconds=3)
    faults.inject("balance_offset", usd=5)
    measured = asyncio.run_coroutine_threadsafe(alive.runner.clock.measure(), alive.loop)
    offset = measured.result(30)
    assert abs(offset.offset_ms - 3000) <= offset.uncertainty_ms + 50
    show_tab(page, "Command Center")
    stalled = (".ud-feed-prices", ".ud-feed-prices_BTC", ".ud-feed-prices_ETH")
    for chip in (*stalled, ".ud-clock", ".ud-assertion-status"):
        expect(page.locator(f".ud-health {chip}")).to_have_class(
            re.compile(r"\bud-red\b"), timeout=30000
        )
    red = {text.split(" ")[0] for text, colour in chips(page).items() if colour == "red"}
    # exactly the stalled channel's chips (journal and per asset), the clock and the assertion
    assert red == {"prices", "prices:BTC", "prices:ETH", "clock", "ASSERTION"}, chips(page)
    expect(page.locator(".ud-health .ud-assertion-status")).to_contain_text(
        "settlement_pnl_matches_balance"
    )
    shoot(page, "faulted")
