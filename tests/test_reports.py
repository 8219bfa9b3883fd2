"""The daily summary's figures equal direct SQL over the same rows (issue 9, item 3)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from live.reports import daily as reports

DAY = date(2026, 8, 10)
T0 = datetime(2026, 8, 10, tzinfo=UTC)
NOW = T0 + timedelta(days=1, hours=3)
H = timedelta(hours=1)
S = timedelta(seconds=1)
ASSERTIONS = ("signal_to_one_order", "fill_has_position", "tick_under_5s")


def insert(conn: psycopg.Connection, table: str, **row) -> None:
    values = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()}
    marks = ", ".join(f"%({k})s" for k in row)
    conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values)


def trade(conn, pid, mode, strategy, opened, closed=None, *, price="0.55", won=True, fail=False):
    """One entry order, its fill(s) and the position; settled at `closed` if given."""
    price, shares = Decimal(price), Decimal("2")
    fee = (shares * Decimal("0.02") * price * (1 - price)).quantize(Decimal("0.000001"))
    cost = shares * price
    insert(conn, "orders", client_order_id=f"c-{pid}", venue_order_id=f"v-{pid}", mode=mode,
           strategy=strategy, window_slug=f"btc-updown-5m-{pid}", position_id=pid,
           token_id="tok", outcome="UP", side="BUY", purpose="ENTRY", order_type="FAK",
           worst_price=price, filled_shares=shares, state="FILLED", created_ts=opened,
           updated_ts=opened)  # fmt: skip
    insert(conn, "fills", fill_id=f"f-{pid}", client_order_id=f"c-{pid}", mode=mode, ts=opened,
           price=price, shares=shares, fee=fee)  # fmt: skip
    if fail:
        insert(conn, "fills", fill_id=f"f2-{pid}", client_order_id=f"c-{pid}", mode=mode,
               ts=opened, price=price, shares=shares, fee=fee, status="FAILED")  # fmt: skip
    row = dict(
        position_id=pid,
        mode=mode,
        strategy=strategy,
        window_slug=f"btc-updown-5m-{pid}",
        asset="BTC",
        outcome="UP",
        token_id="tok",
        state="MONITORING",
        shares=shares,
        entry_price=price,
        cost=cost,
        fees=fee,
        opened_ts=opened,
        updated_ts=opened,
    )
    if closed is not None:
        proceeds = shares if won else Decimal(0)
        row |= dict(state="CLOSED", closed_ts=closed, proceeds=proceeds, resolution="UP",
                    exit_price=1 if won else 0, pnl_gross=proceeds - cost,
                    pnl_net=proceeds - cost - fee)  # fmt: skip
    insert(conn, "positions", **row)


def seed_day(conn: psycopg.Connection) -> None:
    trade(conn, "p1", "PAPER", "canary", T0 + 1 * H, T0 + 1 * H + 90 * S, won=True)
    trade(conn, "p2", "PAPER", "canary", T0 + 2 * H, T0 + 2 * H + 90 * S, won=False, fail=True)
    trade(conn, "p3", "PAPER", "canary", T0 + 3 * H, T0 + 3 * H + 90 * S, price="0.61")
    trade(conn, "p4", "PAPER", "canary", T0 - 60 * S, T0 + 30 * S, won=False)  # opened yesterday
    trade(conn, "p5", "PAPER", "canary", T0 + 24 * H - 60 * S)  # still open at midnight
    trade(conn, "p6", "LIVE", "canary", T0 + 5 * H, T0 + 5 * H + 60 * S, price="0.52")
    trade(conn, "p7", "PAPER", "vwap-c", T0 + 6 * H, T0 + 6 * H + 60 * S, won=False)
    trade(conn, "p8", "BACKTEST", "canary", T0 + 7 * H, T0 + 7 * H + 60 * S)  # left out
    trade(conn, "p9", "PAPER", "canary", T0 + 25 * H, T0 + 25 * H + 60 * S)  # tomorrow
    for hour in (1, 2, 3, 4):
        for name in ASSERTIONS:
            ok = not (name == "fill_has_position" and hour in (2, 3))
            insert(conn, "assertion_results", ts=T0 + hour * H, name=name, ok=ok, mode="PAPER")
    insert(conn, "assertion_results", ts=T0 + 5 * H, name="tick_under_5s", ok=True)
    insert(conn, "assertion_results", ts=T0 + 5 * H, name="tick_under_5s", ok=False,
           mode="BACKTEST")  # fmt: skip
    insert(conn, "assertion_results", ts=T0 - H, name="tick_under_5s", ok=False, mode="PAPER")
    insert(conn, "breaker_events", ts=T0 + 2 * H, tripped=True, reason="fill_has_position")
    insert(conn, "breaker_events", ts=T0 + 2.5 * H, tripped=False, reason="reset by operator")
    insert(conn, "breaker_events", ts=T0 - 2 * H, tripped=True, reason="yesterday")
    for iid, start, seen in (
        ("r1", T0 - 2 * H, T0 + 6 * H),
        ("r2", T0 + 5 * H, T0 + 12 * H),
        ("r3", T0 + 20 * H, T0 + 25 * H),
        ("r0", T0 - 9 * H, T0 - 8 * H),
    ):
        insert(conn, "instances", instance_id=iid, host="h", pid=1, role="stopped", mode="PAPER",
               venue="SANDBOX", started_at=start, last_seen=seen)  # fmt: skip
    insert(conn, "feed_gaps", feed="clob", asset="BTC", start_ts=T0 + H, end_ts=T0 + H + 10 * S,
           reason="idle")  # fmt: skip
    insert(conn, "feed_gaps", feed="clob", asset="BTC", start_ts=T0 - 10 * S,
           end_ts=T0 + 10 * S, reason="idle")  # fmt: skip
    insert(conn, "feed_gaps", feed="oracle", start_ts=T0 + 24 * H - 30 * S, reason="idle")
    for i, (agreement, mode) in enumerate(
        [("agree", "PAPER")] * 3
        + [("disagree", "PAPER"), ("pending", "LIVE"), ("agree", "BACKTEST")]  # fmt: skip
    ):
        insert(conn, "settlements", window_slug=f"w{i}", mode=mode, ours="UP",
               venue=None if agreement == "pending" else ("DOWN" if agreement == "disagree"
                                                          else "UP"),
               agreement=agreement, rule="twap_60s", ts=T0 + (i + 1) * H)  # fmt: skip
    insert(conn, "alerts", ts=T0 + 2 * H, kind="breaker_tripped", severity="critical",
           message="x")  # fmt: skip


@pytest.fixture
def day_db(db_url):
    with psycopg.connect(db_url) as conn:
        seed_day(conn)
    return db_url


def direct(conn, sql: str):
    return conn.execute(sql, {"d": DAY}).fetchone()


def test_daily_figures_equal_direct_sql(day_db):
    with psycopg.connect(day_db) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        s = reports.daily_summary(conn, DAY, now=NOW)
        runner = "mode IN ('PAPER', 'LIVE', 'DRY_RUN')"
        trades, orders = direct(
            conn,
            f"""SELECT (SELECT count(*) FROM positions
            WHERE opened_ts::date = %(d)s AND {runner}), (SELECT count(*) FROM orders
            WHERE created_ts::date = %(d)s AND {runner})""",
        )
        closed, wins, gross, net = direct(
            conn,
            f"""SELECT count(*), sum((pnl_net > 0)::int),
            sum(proceeds - cost), sum(proceeds - cost - fees) FROM positions
            WHERE state = 'CLOSED' AND closed_ts::date = %(d)s AND {runner}""",
        )
        (fills,) = direct(
            conn,
            f"""SELECT count(*) FROM fills WHERE ts::date = %(d)s
            AND status = 'CONFIRMED' AND {runner}""",
        )
        checked, passed = direct(
            conn,
            """SELECT count(*), sum(ok::int) FROM assertion_results
            WHERE ts::date = %(d)s AND coalesce(mode, 'PAPER') <> 'BACKTEST'""",
        )
        (trips,) = direct(
            conn,
            """SELECT count(*) FROM breaker_events
            WHERE ts::date = %(d)s AND tripped""",
        )
        agree, disagree = direct(
            conn,
            f"""SELECT sum((agreement = 'agree')::int),
            sum((agreement = 'disagree')::int) FROM settlements
            WHERE ts::date = %(d)s AND {runner}""",
        )
    assert (s.total("trades"), s.total("orders"), s.total("fills")) == (trades, orders, fills)
    assert (s.total("closed"), s.total("wins")) == (closed, wins)
    assert (s.total("pnl_gross"), s.total("pnl_net")) == (gross, net)
    assert (s.assertions_checked, s.assertions_passed, s.breaker_trips) == (checked, passed, trips)
    assert s.assertion_pass_rate == pytest.approx(passed / checked)
    assert s.settlement_agreement_rate == pytest.approx(agree / (agree + disagree))
    # and the same figures by hand, so a shared mistake in both SQLs cannot hide
    assert (trades, orders, fills, closed, wins) == (6, 6, 6, 6, 3)  # p1-p3, p5-p7; p4-p7
    assert (checked, passed, trips) == (13, 11, 1)
    assert (agree, disagree) == (3, 1)


def test_per_strategy_pnl_splits_by_mode_and_strategy(day_db):
    with psycopg.connect(day_db) as conn:
        s = reports.daily_summary(conn, DAY, now=NOW)
        by = {(st.mode, st.strategy): st for st in s.strategies}
        for (mode, strategy), st in by.items():
            net, fees = conn.execute(
                """SELECT sum(pnl_net), sum(fees) FROM positions WHERE state = 'CLOSED'
                   AND mode = %s AND strategy = %s AND closed_ts >= %s AND closed_ts < %s""",
                (mode, strategy, s.start, s.end),
            ).fetchone()
            assert (st.pnl_net, st.fees) == (net, fees)
    assert set(by) == {("PAPER", "canary"), ("LIVE", "canary"), ("PAPER", "vwap-c")}
    assert by[("PAPER", "canary")].trades == 4 and by[("PAPER", "canary")].closed == 4


def test_uptime_is_the_union_of_instance_lifetimes_clipped_to_the_day(day_db):
    with psycopg.connect(day_db) as conn:
        s = reports.daily_summary(conn, DAY, now=NOW)
    assert s.uptime_s == 16 * 3600  # 00-12 (r1 ∪ r2 overlap) + 20-24 (r3)
    assert s.uptime_ratio == pytest.approx(16 / 24)


def test_feed_gaps_are_clipped_to_the_day_and_open_gaps_run_to_its_end(day_db):
    with psycopg.connect(day_db) as conn:
        s = reports.daily_summary(conn, DAY, now=NOW)
    assert (s.feed_gap_count, s.feed_gap_s) == (3, 10 + 10 + 30)


def test_today_ends_at_now(day_db):
    with psycopg.connect(day_db) as conn:
        s = reports.daily_summary(conn, DAY, now=T0 + 4 * H)
    assert s.span_s == 4 * 3600 and s.uptime_s == 4 * 3600
    assert s.total("trades") == 3  # p1, p2, p3 (p4 entered yesterday, the rest after 04:00)


def test_summary_alert_carries_the_figures_and_warns_on_failures(day_db):
    with psycopg.connect(day_db) as conn:
        s = reports.daily_summary(conn, DAY, now=NOW)
    alert = reports.summary_alert(s, "reports/daily_summary_2026-08-10.html")
    assert alert["kind"] == "daily_summary" and alert["severity"] == "warning"
    text = alert["what_happened"]
    assert "Assertions: 11/13 passed (84.62 %); failed: fill_has_position ×2" in text
    assert "Uptime: 16.00 h of 24.00 h (66.67 %)" in text
    assert "Settlements: agree 3, disagree 1, pending 1 (agreement 75.00 %)" in text
    assert f"net {'+' if s.total('pnl_net') >= 0 else '-'}$" in text


@pytest.mark.slow
def test_report_daily_command_writes_the_report_and_records_the_alert(day_db, tmp_path):
    import os
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "updown.cli", "report", "daily", "--date", DAY.isoformat(),
           "--out-dir", str(tmp_path)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPDOWN_TELEGRAM")}
    env |= {"UPDOWN_DATABASE_URL": day_db, "UPDOWN_DISCORD_WEBHOOK_URL": ""}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Assertions: 11/13 passed (84.62 %)" in done.stdout
    html = (tmp_path / "daily_summary_2026-08-10.html").read_text()
    assert (tmp_path / "daily_summary_2026-08-10.ipynb").exists()
    assert "Uptime: 16.00 h of 24.00 h (66.67 %)" in html
    with psycopg.connect(day_db) as conn:
        (message,) = conn.execute(
            "SELECT message FROM alerts WHERE kind = 'daily_summary'"
        ).fetchone()
    assert "Settlements: agree 3, disagree 1, pending 1" in message


def test_cash_of_a_mode_that_settles_by_redemption(db_url):
    """Issue 13: LIVE's cash, its receivables at the day's end (resolved, not yet redeemed)
    and what the day's redemptions brought in; modes paid at resolution have no cash line."""
    with psycopg.connect(db_url) as conn:
        seed_day(conn)
        trade(conn, "r1", "LIVE", "canary", T0 + 8 * H, T0 + 8 * H + 60 * S)
        trade(conn, "r2", "LIVE", "canary", T0 + 9 * H, T0 + 9 * H + 60 * S)
        for pid, done in (("p6", T0 + 5 * H + 90 * S), ("r1", T0 + 8 * H + 70 * S), ("r2", None)):
            resolved = T0 + (5 if pid == "p6" else 8 if pid == "r1" else 9) * H + 60 * S
            insert(conn, "redemptions", position_id=pid, mode="LIVE", window_slug=f"w-{pid}",
                   condition_id="0xc", token_id="tok", shares=2, won=True, expected_usd=2,
                   status="REDEEMED" if done else "PENDING", resolved_ts=resolved,
                   redeemed_ts=done, via="rpc" if done else None)  # fmt: skip
        insert(conn, "balances", ts=T0 + 9 * H, mode="LIVE", source="expected", usd="101.5")
        insert(conn, "balances", ts=T0 + 9 * H, mode="LIVE", source="venue", usd="101.5")
        s = reports.daily_summary(conn, DAY, now=T0 + 48 * H)
    (cash,) = s.cash
    assert (cash.mode, cash.cash, cash.venue_cash) == ("LIVE", Decimal("101.5"), Decimal("101.5"))
    assert (cash.awaiting, cash.receivable, cash.redeemed, cash.redeemed_usd) == (
        1,
        Decimal(2),
        2,
        Decimal(4),
    )
    assert (
        "Cash (LIVE): $101.50 (venue $101.50), receivable $2.00 (1 awaiting redemption); "
        "redeemed today 2 ($4.00)"
    ) in reports.summary_lines(s)
