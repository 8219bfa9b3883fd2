"""Issue 5 fault drills on the feeds and the exchange heartbeat, against the real sandbox and
PostgreSQL: one LIVE runner (canary on BTC and ETH, 20 s windows) lives through the module.
A market feed stalled on one asset (socket open, no data) opens a gap, turns that feed red and
stops entries on that asset only; cleared, the gap closes and entries resume. Then heartbeats
fail and the breaker trips (last: a tripped breaker stays tripped)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

import pytest
from runner_kit import (
    Faults,
    LoopThread,
    health_now,
    live_controls,
    make_recorded_runner,
    module_database,
    poll,
    promote,
    rows,
    runner_config,
    slug_of,
    start_sandbox,
    window_open_after,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-faults-feeds")]
CANARY = "always-trade-canary"


@dataclass
class Rig:
    db_url: str
    faults: Faults
    thread: LoopThread
    stalled_window: int = 0

    @property
    def runner(self):
        return self.thread.runner

    @property
    def run_id(self) -> str:
        return self.runner.primary.engine.run_id

    def decisions(self, slug: str) -> list[tuple]:
        return rows(
            self.db_url,
            "SELECT verdict, code, detail FROM decisions WHERE run_id = %s AND window_slug = %s "
            "AND strategy = %s ORDER BY ts, id",
            self.run_id,
            slug,
            CANARY,
        )

    def gaps(self, feed: str) -> list[tuple]:
        return rows(
            self.db_url,
            "SELECT id, asset, start_ts, end_ts FROM feed_gaps WHERE feed = %s ORDER BY id",
            feed,
        )


@pytest.fixture(scope="module")
def rig(pg_admin_url, template_db):
    with module_database(pg_admin_url, template_db) as db_url:
        server = start_sandbox()
        thread = None
        try:
            live_controls(db_url)
            promote(db_url, CANARY, "canary")
            runner = make_recorded_runner(db_url, runner_config(server.base_url))
            thread = LoopThread(runner).start()
            assert health_now(runner)["lock"]["role"] == "trader"
            yield Rig(db_url, Faults(server.base_url), thread)
        finally:
            if thread is not None:
                thread.stop()
            server.stop()


def _stall(rig: Rig) -> int:
    """Stall BTC's market data at O+2 of the next window (once per rig); return O. Each test
    calls it, so a test still drills the whole story if it runs without its predecessor."""
    if not rig.stalled_window:
        open_s = window_open_after(margin_s=0.5)
        time.sleep(max(0.0, open_s + 2 - time.time()))
        rig.faults.inject("stall_feed", channel="market", asset="BTC")
        rig.stalled_window = open_s
    return rig.stalled_window


def _btc_gap(rig: Rig) -> list[tuple]:
    return poll(lambda: rig.gaps("market:BTC"), 10, what="a market:BTC gap row")


def test_stalled_feed_opens_a_gap_turns_red_and_stops_entries_on_that_asset_only(rig):
    open_s = _stall(rig)
    gap = _btc_gap(rig)
    assert len(gap) == 1 and gap[0][1] == "BTC" and gap[0][3] is None, gap
    status = health_now(rig.runner)
    assert status["feeds"]["market:BTC"]["status"] == "red", status["feeds"]
    assert status["feeds"]["market:ETH"]["status"] == "green", status["feeds"]
    assert status["stale_assets"] == ["BTC"]
    btc = poll(lambda: rig.decisions(slug_of("BTC", open_s)), 15, what="the BTC decision")
    assert [(v, c) for v, c, _ in btc] == [("DENIED", "INSTRUMENT_NOT_ALLOWED")], btc
    assert btc[0][2].get("reason") == "feed_stale", btc
    eth = poll(lambda: rig.decisions(slug_of("ETH", open_s)), 5, what="the ETH decision")
    assert [(v, c) for v, c, _ in eth] == [("APPROVED", None)], eth
    btc_orders = rows(
        rig.db_url, "SELECT 1 FROM orders WHERE window_slug = %s", slug_of("BTC", open_s)
    )
    assert btc_orders == [] and rig.faults.orders(slug_of("BTC", open_s)) == []
    assert rig.gaps("market:ETH") == []
    poll(
        lambda: rows(rig.db_url, "SELECT 1 FROM alerts WHERE kind = 'feed_stale'"),
        5,
        what="a feed_stale alert row",
    )


def test_cleared_stall_closes_the_gap_and_entries_resume(rig):
    open_s = _stall(rig)
    _btc_gap(rig)
    poll(lambda: rig.decisions(slug_of("BTC", open_s)), 15, what="the stalled BTC decision")
    rig.faults.clear_kind("stall_feed")
    gap = poll(
        lambda: (g := rig.gaps("market:BTC")) and g[-1][3] is not None and g,
        10,
        what="the gap closed",
    )
    assert len(gap) == 1 and gap[0][3] > gap[0][2], gap
    status = poll(
        lambda: (h := health_now(rig.runner))["feeds"]["market:BTC"]["status"] == "green" and h,
        5,
        what="market:BTC green again",
    )
    assert status["stale_assets"] == []
    next_btc = slug_of("BTC", open_s + 20)
    btc = poll(lambda: rig.decisions(next_btc), 35, what="the next BTC decision")
    assert [(v, c) for v, c, _ in btc] == [("APPROVED", None)], btc
    assert not status["breaker"]["tripped"]


def _engine_tick(rig: Rig, slug: str):
    state = rig.runner.primary.engine.market.windows.get(slug)
    return None if state is None else state.window.tick_size


def test_tick_size_change_reaches_the_engine_at_once_and_no_order_is_refused_for_it(rig):
    """Issue 14: the market channel's tick_size_change re-lists the window to the engine at once
    (Gamma polling no longer the only source); entries priced to the current tick go through."""
    changes_before = rig.runner.windows.tick_changes
    open_s = window_open_after(margin_s=0.5)
    time.sleep(max(0.0, open_s + 1 - time.time()))
    slug = slug_of("ETH", open_s)
    rig.faults.inject("tick_size", asset="ETH", tick="0.001")
    poll(lambda: _engine_tick(rig, slug) == Decimal("0.001"), 5, what="engine tick 0.001")
    assert rig.runner.windows.windows[slug].tick_size == Decimal("0.001")
    assert rig.runner.windows.tick_changes > changes_before
    eth = poll(lambda: rig.decisions(slug), 20, what="the ETH decision at tick 0.001")
    assert [(v, c) for v, c, _ in eth] == [("APPROVED", None)], eth
    rig.faults.clear_kind("tick_size")
    sandbox_tick = lambda: next(  # noqa: E731
        (Decimal(str(w["tick"])) for w in rig.faults.state()["windows"] if w["slug"] == slug),
        None,
    )
    poll(lambda: _engine_tick(rig, slug) == sandbox_tick(), 5, what="engine tick back")
    refused = rows(
        rig.db_url,
        "SELECT client_order_id, reason FROM orders WHERE state = 'REJECTED' AND reason ILIKE "
        "'%%tick%%'",
    )
    assert refused == []


def test_market_feed_reconnect_backs_off_and_rereads_the_books_over_rest(rig):
    feeds = rig.runner.feeds
    before, books_before = feeds.reconnects["market"], feeds.snapshots
    rig.faults.inject("disconnect", channel="market")
    poll(lambda: feeds.reconnects["market"] > before, 5, what="the market reconnect")
    poll(lambda: feeds.snapshots > books_before, 10, what="the REST books re-read")
    assert feeds.snapshot_failures == 0
    assert feeds.backoff["market"].failures >= 1
    stats = health_now(rig.runner)["feed_sockets"]
    assert stats["snapshots"] >= books_before + 2 and stats["snapshot_failures"] == 0


def test_failing_heartbeats_trip_the_breaker_with_the_heartbeat_reason(rig):
    rig.faults.inject("http_error", status=503, path="/clob/v1/heartbeats")
    status = poll(
        lambda: (h := health_now(rig.runner))["breaker"]["tripped"] and h,
        12,
        what="breaker tripped by heartbeats",
    )
    assert any("heartbeat" in r for r in status["breaker"]["reasons"]), status["breaker"]
    assert status["status"] == "degraded"
    reasons = poll(
        lambda: rows(
            rig.db_url,
            "SELECT reason FROM breaker_events WHERE tripped AND run_id = %s",
            rig.run_id,
        ),
        3,
        what="the breaker event row",
    )
    assert all("heartbeat" in r for (r,) in reasons), reasons
    alerts = poll(
        lambda: rows(rig.db_url, "SELECT message FROM alerts WHERE kind = 'breaker_tripped'"),
        5,
        what="a breaker_tripped alert row",
    )
    assert any("heartbeat" in m for (m,) in alerts), alerts
    assert rig.runner.role.heartbeat_failures >= 1
    rig.faults.clear_kind("http_error")
    # the next accepted heartbeat lifts that trip: one failed heartbeat (a transport error in a
    # CI run) had stopped entries for the rest of the session
    poll(
        lambda: not any("heartbeat" in r for r in health_now(rig.runner)["breaker"]["reasons"]),
        15,
        what="the heartbeat trip lifted",
    )
