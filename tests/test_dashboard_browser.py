"""The cockpit in headless Chromium against ONE real recorded sandbox session
(tests/real_session.py: the canary in LIVE(sandbox) with PAPER and DRY_RUN copies, ≥ 3 settled
windows per mode, then stopped cleanly) — a throwaway copy of it, so the checks that write (a new
fill, PAUSE) leave the recording alone. Every expected number is read from that database.

The last test starts a runner again on the copy (`real_session.AliveRunner`, LIVE on a fresh
sandbox) for what needs a RUNNING runner: the Deep Dive's current window and book, and an
authenticated PAUSE that the runner's health reports as PAUSED within 1 s.
Screenshots go to reports/screenshots/.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import expect, sync_playwright
from real_session import AliveRunner, copy_of, drop, real_session  # noqa: F401 - fixture

from live.store import controls
from panel_app import poller
from panel_app.app import serve
from panel_app.auth import AuthConfig
from panel_app.testing import free_port, launch_chromium, open_cockpit, show_tab, wait_http

# Every check here waits on a real browser (several are "within 1 s"): `isolated` runs them alone,
# after the parallel suite (see the Makefile), so another worker's load cannot decide them.
pytestmark = [pytest.mark.xdist_group("real_session"), pytest.mark.slow, pytest.mark.isolated]
PASSWORD = "correct horse"
SHOTS = Path(__file__).resolve().parents[1] / "reports" / "screenshots"
CANARY = "always-trade-canary"


def sql(url: str, query: str, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


@pytest.fixture(scope="module")
def recorded(pg_admin_url, real_session):  # noqa: F811
    """A copy of the recording; the operator has resumed (the run ended on kill_switch=pause)."""
    url = copy_of(pg_admin_url, real_session)
    with psycopg.connect(url) as conn:
        controls.write(conn, "kill_switch", "off", "test-setup")
    try:
        yield url
    finally:
        poller.stop_all()
        drop(pg_admin_url, url)


@pytest.fixture(scope="module")
def base_url(recorded):
    port = free_port()
    thread = serve(
        recorded, port=port, auth=AuthConfig.with_passwords({"alice": PASSWORD}), threaded=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/api/controls")  # cheap (405); "/" would render a whole page
        yield base
    finally:
        thread.stop()
        poller.stop_all()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def guest_page(browser, base_url):
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    open_cockpit(page, base_url)
    yield page
    context.close()


def cell(page, text: str):
    return page.locator(".tabulator-cell", has_text=text).first


def test_command_center_shows_venue_mode_positions_pnl_and_health(guest_page, recorded):
    page = guest_page
    show_tab(page, "Command Center")
    ((mode, venue, state),) = sql(
        recorded,
        f"SELECT health->>'mode', health->>'venue', health->'strategies'->>'{CANARY}'"
        " FROM instances",
    )
    expect(page.locator("#ud-venue")).to_have_text(venue)
    expect(page.locator("#ud-mode")).to_have_text(mode)
    for (pid,) in sql(recorded, "SELECT position_id FROM positions WHERE state <> 'CLOSED'"):
        expect(page.locator(f'.ud-position[data-position-id="{pid}"]')).to_be_visible()
    ((net,),) = sql(  # the header is the primary mode's (LIVE) alone; copies never added
        recorded,
        """SELECT sum(CASE WHEN state='CLOSED' THEN pnl_net
        ELSE (mark_price - entry_price) * shares - fees END) FROM positions WHERE mode = %s""",
        mode,
    )
    sign = "+" if net >= 0 else "-"
    expect(page.locator(".ud-session-pnl")).to_contain_text(f"net {sign}${abs(net):,.2f}")
    expect(page.locator(".ud-strategy", has_text=CANARY)).to_contain_text(state)
    expect(page.locator(".ud-lock")).to_contain_text("none")  # released by the clean stop
    expect(page.locator(".ud-runner")).to_contain_text("UNREACHABLE")  # stopped
    # The runner's per-feed indicators (market:<asset>, prices:<asset>) with their ages. The
    # journal-measured chip only exists while the last message is < 10 min old, and the recorded
    # session may be older than that when reused from the cache, so it is not asserted here.
    for feed in ("market:BTC", "market:ETH", "prices:BTC", "prices:ETH"):
        expect(page.locator(".ud-feed", has_text=feed)).to_be_visible()
    for mode, closed in sql(
        recorded, "SELECT mode, count(*) FROM positions WHERE state='CLOSED' GROUP BY mode"
    ):  # "P&L by mode": one row per mode with its closed count
        row = page.locator(".tabulator-row", has=page.locator(".tabulator-cell", has_text=mode))
        expect(row.first).to_contain_text(str(closed))
    page.screenshot(path=SHOTS / "command_center.png", full_page=True)


def test_risk_view_shows_ten_assertions_triggers_and_controls(guest_page, recorded):
    page = guest_page
    show_tab(page, "Risk")
    expect(page.locator("tr.ud-assertion")).to_have_count(10)
    for (name,) in sql(recorded, "SELECT DISTINCT name FROM assertion_results"):
        row = page.locator(f'tr.ud-assertion[data-name="{name}"]')
        expect(row).to_contain_text("ok")
        expect(row.locator(".ud-last-failure")).to_contain_text("never")
    for (state,) in sql(
        recorded, "SELECT DISTINCT to_state FROM position_events WHERE to_state LIKE '%%TRIGGERED'"
    ):
        expect(cell(page, state)).to_be_visible()
    expect(cell(page, "max_position_usd")).to_be_visible()
    expect(page.locator(".ud-max-drawdown")).to_contain_text("max drawdown")
    page.screenshot(path=SHOTS / "risk.png", full_page=True)


def test_trade_history_filter_and_csv_export_return_exactly_the_filtered_rows(
    guest_page, recorded, tmp_path
):
    page = guest_page
    show_tab(page, "Trade History")
    ((losses,),) = sql(recorded, "SELECT count(*) FROM positions WHERE mode='PAPER' AND pnl_net<0")
    outcome, sign = ("loss", "<") if losses else ("win", ">")
    page.get_by_label("Strategy").select_option(CANARY)
    page.get_by_label("Mode").select_option("PAPER")
    page.get_by_label("Outcome").select_option(outcome)
    expected = {
        r[0]
        for r in sql(
            recorded,
            f"""SELECT position_id FROM positions WHERE strategy=%s AND mode='PAPER'
            AND state='CLOSED' AND pnl_net {sign} 0""",
            CANARY,
        )
    }
    assert expected
    expect(page.locator(".ud-trade-count")).to_have_text(f"{len(expected)} trades")
    with page.expect_download() as info:
        page.get_by_text("Export CSV (filtered rows)").click()
    path = tmp_path / "trades.csv"
    info.value.save_as(path)
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert {r["position_id"] for r in rows} == expected and len(rows) == len(expected)
    assert all(r["strategy"] == CANARY and r["outcome"] == outcome for r in rows)
    page.screenshot(path=SHOTS / "trade_history.png", full_page=True)
    page.get_by_label("Outcome").select_option("All")
    page.get_by_label("Mode").select_option("All")
    page.get_by_label("Strategy").select_option("All")


def test_guest_cannot_change_anything(guest_page, base_url, recorded):
    page = guest_page
    show_tab(page, "Command Center")
    for name in ("PAUSE", "FLATTEN", "EMERGENCY", "RESUME"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_disabled()
    expect(page.locator(".ud-controls-disabled")).to_contain_text("authenticated user")
    before = sql(recorded, "SELECT count(*) FROM control_changes")
    response = page.request.post(
        base_url + "/api/controls", data={"key": "kill_switch", "value": "pause"}
    )
    assert response.status == 401
    assert sql(recorded, "SELECT value FROM runtime_controls WHERE key='kill_switch'") == [("off",)]
    assert sql(recorded, "SELECT count(*) FROM control_changes") == before


def test_new_fill_appears_on_an_open_page_within_one_second(guest_page, recorded):
    page = guest_page
    show_tab(page, "Command Center")
    ((coid, mode),) = sql(
        recorded,
        """SELECT client_order_id, mode FROM orders WHERE state = 'FILLED'
        AND purpose = 'ENTRY' ORDER BY created_ts DESC LIMIT 1""",
    )
    fill_id = f"t-new-{time.time_ns()}"
    with psycopg.connect(recorded) as conn:
        conn.execute(
            """INSERT INTO fills (fill_id, client_order_id, mode, ts, price, shares, fee)
            VALUES (%s, %s, %s, now(), 0.55, 0.37, 0.0001)""",
            (fill_id, coid, mode),
        )
    start = time.monotonic()
    expect(page.locator(f'.ud-activity[data-ref="FILL:{fill_id}"]')).to_be_visible(timeout=1000)
    print(f"new fill visible after {time.monotonic() - start:.3f} s")
    assert time.monotonic() - start <= 1.0


def runner_state(url: str) -> str:
    return httpx.get(url, timeout=0.5).json()["trading_state"]


def test_running_runner_deep_dive_and_authenticated_pause_shows_paused_within_1s(
    browser, base_url, recorded
):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    with AliveRunner(recorded) as alive:
        try:
            deadline = time.monotonic() + 30
            while runner_state(alive.health_url) != "ACTIVE" or not sql(
                recorded,
                "SELECT 1 FROM windows w JOIN market_events e ON e.token_id = w.token_up AND"
                " e.kind = 'book' WHERE w.asset = 'BTC' AND w.open_ts <= now() - interval '1 s'"
                " AND w.close_ts > now() + interval '5 s'",
            ):
                assert time.monotonic() < deadline, "no live BTC window with a book"
                time.sleep(0.2)
            page.goto(base_url + "/login")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            open_cockpit(page, base_url)
            expect(page.locator(".ud-runner")).to_contain_text("reachable · ACTIVE")
            show_tab(page, "Instrument Deep Dive")
            ((slug,),) = sql(
                recorded,
                "SELECT slug FROM windows WHERE asset = 'BTC' AND open_ts <= now()"
                " AND close_ts > now()",
            )
            expect(page.locator(".ud-window-slug")).to_have_text(slug)
            expect(page.locator(".ud-mid")).to_contain_text("mid 0.")
            expect(page.locator(".ud-token-status")).to_contain_text("valid")
            page.screenshot(path=SHOTS / "instrument_deep_dive.png", full_page=True)
            show_tab(page, "Command Center")
            pause = page.get_by_role("button", name="PAUSE", exact=True)
            expect(pause).to_be_enabled()
            pause.click()
            expect(page.locator(".ud-control-message").first).to_contain_text("no new entries")
            page.get_by_role("button", name="Confirm").first.click()
            clicked = time.monotonic()
            while runner_state(alive.health_url) != "PAUSED":
                assert time.monotonic() - clicked <= 1.0, "runner health not PAUSED within 1 s"
                time.sleep(0.02)
            print(f"runner health PAUSED {time.monotonic() - clicked:.3f} s after Confirm")
            assert sql(recorded, "SELECT value FROM runtime_controls WHERE key='kill_switch'") == [
                ("pause",)
            ]
            ((by,),) = sql(
                recorded, "SELECT changed_by FROM control_changes ORDER BY id DESC LIMIT 1"
            )
            assert by == "dashboard:alice"
            expect(page.locator(".ud-trading-state")).to_contain_text("kill_switch=pause")
            expect(page.locator(".ud-runner")).to_contain_text("reachable · PAUSED")
            page.screenshot(path=SHOTS / "command_center_paused.png", full_page=True)
        finally:
            context.close()
