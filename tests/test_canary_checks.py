"""The canary verification checklist over a realistic PAPER canary run, and with planted faults
(issue 9, item 2). The rows follow the engine's conventions (live/kernel/positions.py): entry_price
is the fills' VWAP, pnl_gross = proceeds − cost, pnl_net = gross − fees, exit_price 1/0 at
settlement. Once the runner exists, `seed_canary_run` can be swapped for a real sandbox run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import psycopg
import pytest

from live.reports import canary_checks

RUN_ID = "canary-run-1"
BASE = datetime(2026, 8, 10, 12, 0, tzinfo=UTC)
NOW = BASE + timedelta(hours=1)
FEE_RATE = Decimal("0.02")
MICRO = Decimal("0.000001")
ASSETS = {"BTC": ("97000.00", "97010.50"), "ETH": ("3400.00", "3399.10")}  # strike, final
NAMES = ("signal_to_one_order", "fill_has_position", "tick_under_5s")


def insert(conn, table: str, **row) -> None:
    values = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()}
    marks = ", ".join(f"%({k})s" for k in row)
    conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values)


def fee(shares: Decimal, price: Decimal) -> Decimal:
    return (shares * FEE_RATE * price * (1 - price)).quantize(MICRO)


def canary_trade(
    conn, slug, asset, close, side, price, winner, *, mode="PAPER", run_id=RUN_ID,
    entry: datetime | None = None, fill_after=timedelta(milliseconds=300),
    closed: datetime | None = None,
) -> Decimal:  # fmt: skip
    """Signal → order → fill → position → settlement for one window; returns the net P&L.
    Defaults: entry 60 s before the close, the fill 0.3 s later, settled 20 s after the close."""
    t = close - timedelta(seconds=60) if entry is None else entry
    closed = close + timedelta(seconds=20) if closed is None else closed
    sid, coid, pid = f"s-{slug}", f"c-{slug}", f"p-{slug}"
    insert(conn, "signals", signal_id=sid, ts=t, mode=mode, run_id=run_id,
           strategy="always-trade-canary", window_slug=slug, asset=asset, side=side,
           usd=Decimal(1), max_price=price + Decimal("0.01"), confidence=Decimal("0.55"),
           inputs={"clob": str(price)})  # fmt: skip
    shares = (Decimal(1) / price).quantize(Decimal("0.01"), ROUND_DOWN)
    token = f"{slug}-{side.lower()}"
    f_ts = t + fill_after
    insert(conn, "orders", client_order_id=coid, venue_order_id=f"0x{coid}", mode=mode,
           run_id=run_id, strategy="always-trade-canary", window_slug=slug, signal_id=sid,
           position_id=pid, token_id=token, outcome=side, side="BUY", purpose="ENTRY",
           order_type="FAK", requested_usd=Decimal(1), worst_price=price + Decimal("0.01"),
           filled_shares=shares, avg_price=price, fee=fee(shares, price), state="FILLED",
           payload={"tokenID": token, "size": str(shares)}, created_ts=t,
           updated_ts=f_ts + timedelta(milliseconds=100))  # fmt: skip
    insert(conn, "fills", fill_id=f"t-{coid}", client_order_id=coid, mode=mode, run_id=run_id,
           ts=f_ts, price=price, shares=shares, fee=fee(shares, price))  # fmt: skip
    cost, fees = shares * price, fee(shares, price)
    won = winner == side
    proceeds = shares if won else Decimal(0)
    insert(conn, "positions", position_id=pid, mode=mode, run_id=run_id,
           strategy="always-trade-canary", window_slug=slug, asset=asset, outcome=side,
           token_id=token, state="CLOSED", shares=shares, entry_price=price, cost=cost, fees=fees,
           mark_price=Decimal(1 if won else 0), exit_price=Decimal(1 if won else 0),
           proceeds=proceeds, exit_reason="EXPIRY", resolution=winner,
           pnl_gross=proceeds - cost, pnl_net=proceeds - cost - fees, opened_ts=f_ts,
           updated_ts=closed, closed_ts=closed)  # fmt: skip
    mark = price + Decimal("0.02")
    for i, (frm, to, extra) in enumerate([
        (None, "ENTRY", {"actual_price": price}),
        ("ENTRY", "MONITORING", {"mark_price": price, "pnl_gross": Decimal(0)}),
        ("MONITORING", "MONITORING", {"mark_price": mark, "pnl_gross": (mark - price) * shares}),
        ("MONITORING", "EXPIRY", {}),
        ("EXPIRY", "SETTLEMENT", {}),
        ("SETTLEMENT", "CLOSED", {"actual_price": Decimal(1 if won else 0)}),
    ]):  # fmt: skip
        step = min(timedelta(seconds=15), (closed - f_ts) / 6)
        ts = f_ts + step * i if to != "CLOSED" else closed
        insert(conn, "position_events", position_id=pid, ts=ts, from_state=frm, to_state=to,
               **extra)  # fmt: skip
    return proceeds - cost - fees


def seed_canary_run(conn: psycopg.Connection, periods: int = 2) -> None:
    balance = Decimal("74.000000")
    for k in range(periods):
        open_ts = BASE + timedelta(minutes=5 * k)
        close = open_ts + timedelta(minutes=5)
        insert(conn, "balances", ts=close - timedelta(seconds=61), mode="PAPER", run_id=RUN_ID,
               source="venue", usd=balance, reason="pre-entry")  # fmt: skip
        for n, (asset, (strike, final)) in enumerate(ASSETS.items()):
            slug = f"{asset.lower()}-updown-5m-{int(open_ts.timestamp())}"
            winner = "UP" if Decimal(final) >= Decimal(strike) else "DOWN"
            insert(conn, "windows", slug=slug, venue="sandbox", asset=asset, length_s=300,
                   open_ts=open_ts, close_ts=close, strike=Decimal(strike),
                   final_price=Decimal(final), status="RESOLVED", winner=winner)  # fmt: skip
            side = "UP" if (k + n) % 2 == 0 else "DOWN"
            balance += canary_trade(conn, slug, asset, close, side, Decimal("0.54"), winner)
            insert(conn, "settlements", window_slug=slug, mode="PAPER", run_id=RUN_ID,
                   ours=winner, venue=winner, agreement="agree", rule="twap_60s",
                   strike=Decimal(strike), settlement_price=Decimal(final),
                   ts=close + timedelta(seconds=5),
                   confirmed_ts=close + timedelta(seconds=20))  # fmt: skip
        for source in ("venue", "expected"):
            insert(conn, "balances", ts=close + timedelta(seconds=21), mode="PAPER",
                   run_id=RUN_ID, source=source, usd=balance.quantize(MICRO),
                   reason="settlement")  # fmt: skip
        for offset in (-30, 21):
            for name in NAMES:
                insert(conn, "assertion_results", ts=close + timedelta(seconds=offset),
                       name=name, ok=True, mode="PAPER", run_id=RUN_ID)  # fmt: skip


@pytest.fixture
def canary_db(db_url):
    with psycopg.connect(db_url) as conn:
        seed_canary_run(conn)
    return db_url


def verify(url: str, **kw) -> canary_checks.CanaryReport:
    with psycopg.connect(url) as conn:
        return canary_checks.verify(conn, now=NOW, run_id=RUN_ID, **kw)


def failed_items(report) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for r in report.failures():
        out.setdefault(r.window_slug, set()).add(r.item)
    return out


def slug(asset: str, k: int) -> str:
    return f"{asset.lower()}-updown-5m-{int((BASE + timedelta(minutes=5 * k)).timestamp())}"


def test_a_clean_canary_run_passes_every_item_in_every_window(canary_db):
    report = verify(canary_db, windows=2)
    assert report.failures() == []
    assert report.passed
    assert len(report.windows) == 4 and len(report.results) == 4 * len(canary_checks.ITEMS)
    assert set(report.matrix()[slug("BTC", 0)]) == set(range(1, 12))


def test_windows_selects_the_latest_periods(canary_db):
    report = verify(canary_db, windows=1)
    assert report.windows == (slug("BTC", 1), slug("ETH", 1))
    assert verify(canary_db, windows=1, mode="LIVE").windows == ()
    assert not verify(canary_db, windows=1, mode="LIVE").passed  # nothing verified is a FAIL


def test_a_fill_without_a_position_fails_item_4(canary_db):
    with psycopg.connect(canary_db) as conn:
        pid = f"p-{slug('ETH', 1)}"
        conn.execute("DELETE FROM position_events WHERE position_id = %s", (pid,))
        conn.execute("DELETE FROM positions WHERE position_id = %s", (pid,))
    report = verify(canary_db)
    failed = failed_items(report)
    assert set(failed) == {slug("ETH", 1)}
    assert 4 in failed[slug("ETH", 1)] and 3 not in failed[slug("ETH", 1)]
    (item4,) = [r for r in report.failures() if r.item == 4]
    assert f"t-c-{slug('ETH', 1)}" in item4.reason and "no position" in item4.reason


def test_a_settlement_mismatch_fails_item_9(canary_db):
    with psycopg.connect(canary_db) as conn:
        conn.execute(
            """UPDATE settlements SET venue = CASE ours WHEN 'UP' THEN 'DOWN' ELSE 'UP' END,
               agreement = 'disagree' WHERE window_slug = %s""",
            (slug("BTC", 0),),
        )
    failed = failed_items(verify(canary_db))
    assert failed == {slug("BTC", 0): {9}}


def test_a_wrong_post_settlement_balance_fails_items_8_and_10(canary_db):
    with psycopg.connect(canary_db) as conn:
        conn.execute(
            """UPDATE balances SET usd = usd - 0.01 WHERE source = 'venue'
               AND ts = (SELECT max(ts) FROM balances)"""
        )
    failed = failed_items(verify(canary_db))
    assert failed == {slug("BTC", 1): {8, 10}, slug("ETH", 1): {8, 10}}


def test_a_pnl_that_disagrees_with_the_cash_fails_items_7_and_10(canary_db):
    with psycopg.connect(canary_db) as conn:
        conn.execute(
            "UPDATE positions SET pnl_net = pnl_net + 0.05 WHERE window_slug = %s",
            (slug("ETH", 0),),
        )
    assert failed_items(verify(canary_db)) == {slug("ETH", 0): {7, 10}}


def test_missing_evidence_fails_items_1_2_3_5_and_6(canary_db):
    with psycopg.connect(canary_db) as conn:
        conn.execute(
            "UPDATE signals SET confidence = NULL WHERE window_slug = %s", (slug("BTC", 0),)
        )
        conn.execute("UPDATE orders SET payload = NULL WHERE window_slug = %s", (slug("ETH", 0),))
        conn.execute("UPDATE fills SET status = 'MATCHED' WHERE client_order_id = %s",
                     (f"c-{slug('BTC', 1)}",))  # fmt: skip
        conn.execute("UPDATE position_events SET mark_price = NULL WHERE position_id = %s",
                     (f"p-{slug('ETH', 1)}",))  # fmt: skip
        conn.execute("UPDATE positions SET mark_price = NULL WHERE window_slug = %s",
                     (slug("ETH", 1),))  # fmt: skip
        conn.execute("UPDATE settlements SET ours = 'UNCERTAIN' WHERE window_slug = %s",
                     (slug("BTC", 0),))  # fmt: skip
    failed = failed_items(verify(canary_db))
    assert failed[slug("BTC", 0)] == {1, 6, 9}
    assert failed[slug("ETH", 0)] == {2}
    assert failed[slug("BTC", 1)] == {3}
    assert failed[slug("ETH", 1)] == {5}


def test_a_failed_runtime_assertion_fails_item_11(canary_db):
    with psycopg.connect(canary_db) as conn:
        insert(conn, "assertion_results", ts=BASE + timedelta(minutes=9), name="tick_under_5s",
               ok=False, mode="PAPER", run_id=RUN_ID, detail={"tick_ms": 5400})  # fmt: skip
    report = verify(canary_db)
    assert failed_items(report) == {slug("BTC", 1): {11}, slug("ETH", 1): {11}}
    (evidence,) = next(r for r in report.failures()).evidence
    assert evidence["detail"] == {"tick_ms": 5400}


def test_evidence_rows_carry_ids_timestamps_prices_and_balances(canary_db):
    report = verify(canary_db, windows=1)
    by_item = {r.item: r for r in report.results if r.window_slug == slug("BTC", 1)}
    assert by_item[2].evidence[0]["venue_order_id"] == f"0xc-{slug('BTC', 1)}"
    assert by_item[3].evidence[0]["price"] == Decimal("0.54")
    assert {b["source"] for b in by_item[8].evidence} == {"venue", "expected"}
    assert by_item[10].evidence[0]["reason"] == "pre-entry" and by_item[10].evidence[0]["usd"] > 74


@pytest.mark.slow
def test_report_canary_command_writes_the_report_and_exits_1_on_a_planted_fault(
    canary_db, tmp_path
):
    import os
    import subprocess
    import sys

    with psycopg.connect(canary_db) as conn:
        conn.execute("DELETE FROM position_events WHERE position_id LIKE 'p-eth%%'")
        conn.execute("DELETE FROM positions WHERE position_id LIKE 'p-eth%%'")
    cmd = [sys.executable, "-m", "updown.cli", "report", "canary", "--windows", "2",
           "--run-id", RUN_ID, "--out-dir", str(tmp_path)]  # fmt: skip
    env = os.environ | {"UPDOWN_DATABASE_URL": canary_db}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"FAIL {slug('ETH', 0)} item 4: fill(s) t-c-{slug('ETH', 0)}" in done.stdout
    assert f"{slug('BTC', 0)}: 1:PASS 2:PASS 3:PASS 4:PASS" in done.stdout
    names = {p.suffix for p in tmp_path.glob("canary_verification_*")}
    assert names == {".ipynb", ".html", ".json"}
    html = next(tmp_path.glob("canary_verification_*.html")).read_text()
    assert "Verdict: FAIL" in html and f"t-c-{slug('ETH', 0)}" in html
    assert "postgres@" not in html


def _mark_event(url: str, pid: str, pnl: Decimal, inputs: dict) -> None:
    with psycopg.connect(url) as conn:
        (ts,) = conn.execute(
            "SELECT opened_ts FROM positions WHERE position_id = %s", (pid,)
        ).fetchone()
        insert(conn, "position_events", position_id=pid, ts=ts, from_state="ENTRY",
               to_state="ENTRY", mark_price=Decimal("0.60"), pnl_gross=pnl, reason="mark",
               detail=inputs)  # fmt: skip


def test_a_mark_taken_between_two_fills_is_judged_on_the_shares_it_saw(canary_db):
    """An entry filled in two fills is marked after the first: its P&L is on half the shares
    (found by the vwap-contrarian ladder's PAPER copy); judged on the inputs it recorded."""
    pid = f"p-{slug('BTC', 0)}"
    with psycopg.connect(canary_db) as conn:
        (shares,) = conn.execute(
            "SELECT shares FROM positions WHERE position_id = %s", (pid,)
        ).fetchone()
    half = shares / 2
    _mark_event(canary_db, pid, (Decimal("0.60") - Decimal("0.54")) * half,
                {"shares": str(half), "entry_price": "0.54"})  # fmt: skip
    assert failed_items(verify(canary_db)) == {}


def test_a_mark_whose_pnl_disagrees_with_its_own_inputs_fails_item_5(canary_db):
    pid = f"p-{slug('BTC', 0)}"
    _mark_event(canary_db, pid, Decimal("0.50"), {"shares": "1.00", "entry_price": "0.54"})
    assert failed_items(verify(canary_db)) == {slug("BTC", 0): {5}}


def test_a_delayed_fak_that_found_nothing_is_skipped_like_a_killed_one(canary_db):
    """The venue answered the entry "delayed", then matched nothing: CANCELLED, nothing filled,
    no position (docs/venue.md O1). Skipped with its reason, like a killed FAK, not failed."""
    slug, t = _signalled_window(canary_db, 10, "s-delayed")
    with psycopg.connect(canary_db) as conn:
        insert(conn, "orders", client_order_id="c-delayed", venue_order_id="0xdelayed",
               mode="PAPER", run_id=RUN_ID, strategy="always-trade-canary", window_slug=slug,
               signal_id="s-delayed", position_id="p-delayed", token_id=f"{slug}-up",
               outcome="UP", side="BUY", purpose="ENTRY", order_type="FAK",
               requested_usd=Decimal(1), worst_price=Decimal("0.55"), filled_shares=Decimal(0),
               fee=Decimal(0), state="CANCELLED", reason="delayed, then nothing filled",
               payload={"tokenID": f"{slug}-up"}, created_ts=t,
               updated_ts=t + timedelta(seconds=2))  # fmt: skip
    report = verify(canary_db, windows=3)
    assert (slug, "entry c-delayed cancelled by the venue: delayed, then nothing filled") in (
        report.skipped
    )
    assert slug not in failed_items(report)


def _signalled_window(canary_db, minutes: int, signal_id: str):
    """A resolved BTC 5m window `minutes` after BASE with one canary signal a minute before its
    close, and nothing else; returns (slug, the signal's time)."""
    open_ts = BASE + timedelta(minutes=minutes)
    close = open_ts + timedelta(minutes=5)
    slug = f"btc-updown-5m-{int(open_ts.timestamp())}"
    t = close - timedelta(seconds=60)
    with psycopg.connect(canary_db) as conn:
        insert(conn, "windows", slug=slug, venue="sandbox", asset="BTC", length_s=300,
               open_ts=open_ts, close_ts=close, strike=Decimal("97000"),
               final_price=Decimal("97001"), status="RESOLVED", winner="UP")  # fmt: skip
        insert(conn, "signals", signal_id=signal_id, ts=t, mode="PAPER", run_id=RUN_ID,
               strategy="always-trade-canary", window_slug=slug, asset="BTC", side="UP",
               usd=Decimal(1), max_price=Decimal("0.55"), confidence=Decimal("0.55"),
               inputs={"clob": "0.54"})  # fmt: skip
    return slug, t


def _denied_signal_window(canary_db, minutes: int, code: str | None) -> str:
    """A window with one canary signal and its decision (DENIED `code`, or APPROVED when None),
    and nothing else: no order, no fill, no position."""
    slug, t = _signalled_window(canary_db, minutes, f"s-{minutes}")
    with psycopg.connect(canary_db) as conn:
        insert(conn, "decisions", ts=t, mode="PAPER", run_id=RUN_ID, signal_id=f"s-{minutes}",
               strategy="always-trade-canary", window_slug=slug,
               verdict="DENIED" if code else "APPROVED", code=code)  # fmt: skip
    return slug


def test_a_window_whose_only_signal_the_gate_denied_is_skipped_not_failed(canary_db):
    """The vwap-contrarian ladder paused its runner while a LIVE signal was being decided: the
    signal was denied (TRADING_STATE), no order was due, and item 2 failed the window. Such a
    window is skipped with the denial; an approved signal without its order still fails."""
    denied = _denied_signal_window(canary_db, 10, "TRADING_STATE")
    approved = _denied_signal_window(canary_db, 20, None)
    report = verify(canary_db, windows=4)
    assert (denied, "signal s-10 denied: TRADING_STATE") in report.skipped
    assert denied not in failed_items(report)
    assert 2 in failed_items(report)[approved]  # approved, never ordered: a real fault
