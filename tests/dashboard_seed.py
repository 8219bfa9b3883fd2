"""SEED DATA for the dashboard tests — a stand-in until the live runner exists.

`seed_session(url)` writes one complete, internally consistent PAPER session against the SANDBOX
venue (windows, journal ticks, signals, decisions, orders with venue ids, fills, positions with
their events, settlements, balances, assertion results, a feed gap, a reconciliation run and the
runner's instance row with its health JSON). The dashboard tests read every expected number back
from the database, never from this module, so a real short sandbox run can replace this seed
without changing them: swap `seed_session` for "run the runner for N windows" in the fixture.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import psycopg

from live.store.db import with_database

RUN_ID = "seed-session"
INSTANCE_ID = "seed-runner-1"
ASSETS = ("BTC", "ETH", "SOL")
SPOT = {"BTC": 97432.0, "ETH": 3412.5, "SOL": 187.25, "XRP": 2.41}
FEE_RATE = Decimal("0.02")
WINDOW_S = 300
ASSERTIONS = (
    "signal_exactly_one_order",
    "order_confirmed_within_10s",
    "fill_has_position",
    "position_count_matches_venue",
    "settlement_pnl_matches_balance",
    "no_null_order_ids",
    "positions_on_allowed_instruments",
    "no_entries_on_future_windows",
    "deployed_within_session_loss",
    "tick_under_5s",
)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Window:
    slug: str
    asset: str
    open_ts: datetime
    close_ts: datetime
    token_up: str
    token_down: str


def _insert(conn: psycopg.Connection, table: str, row: dict) -> None:
    cols = ", ".join(row)
    marks = ", ".join(f"%({c})s" for c in row)
    values = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
    conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", values)


def health_json(now: datetime) -> dict:
    """The health document the seeded runner reports (also served by the test's stub endpoint)."""
    return {
        "status": "ok",
        "mode": "PAPER",
        "venue": "SANDBOX",
        "trading_state": "ACTIVE",
        "lock": {"held": True, "role": "trader"},
        "feeds": {
            "clob": {"last_message_age_s": 0.4, "status": "ok", "out_of_order": 2, "lost": 0},
            "oracle": {"last_message_age_s": 3.2, "status": "ok", "out_of_order": 0, "lost": 0},
            "user": {"last_message_age_s": 7.5, "status": "stale", "out_of_order": 0, "lost": 3},
        },
        "clock_offset_ms": 42,
        "db": {"pool_utilization": 0.25, "last_write_age_s": 0.3},
        "assertions": dict.fromkeys(ASSERTIONS, True),
        "reconciliation": {"ok": True, "ts": (now - timedelta(minutes=25)).isoformat()},
        "strategies": {
            "canary": {"state": "active"},
            "vwap-c": {"state": "disabled_kill_criterion"},
            "hybrid": {"state": "not_promoted"},
        },
        "session_pnl": {"gross": None, "net": None},
        "seeded": True,
    }


def _windows(conn: psycopg.Connection, now: datetime) -> dict[tuple[str, int], Window]:
    """Four resolved windows, the open one and the next per asset; XRP's lacks a conditionId."""
    base = int(now.timestamp()) // WINDOW_S * WINDOW_S
    out: dict[tuple[str, int], Window] = {}
    rng = random.Random(7)
    for asset in (*ASSETS, "XRP"):
        for k in (4, 3, 2, 1, 0, -1):
            if asset == "XRP" and k != -1:
                continue
            epoch = base - k * WINDOW_S
            slug = f"{asset.lower()}-updown-5m-{epoch}"
            w = Window(
                slug,
                asset,
                datetime.fromtimestamp(epoch, UTC),
                datetime.fromtimestamp(epoch + WINDOW_S, UTC),
                f"{slug}-up",
                f"{slug}-down",
            )
            strike = round(SPOT[asset] * (1 + rng.uniform(-0.002, 0.002)), 2)
            final = round(strike * (1 + rng.uniform(-0.001, 0.001)), 2) if k > 0 else None
            status = "RESOLVED" if k > 0 else ("OPEN" if k == 0 else "UPCOMING")
            _insert(
                conn,
                "windows",
                {
                    "slug": slug,
                    "venue": "sandbox",
                    "asset": asset,
                    "length_s": WINDOW_S,
                    "open_ts": w.open_ts,
                    "close_ts": w.close_ts,
                    "condition_id": None if asset == "XRP" else f"0xcond{epoch}{asset.lower()}",
                    "token_up": w.token_up,
                    "token_down": w.token_down,
                    "tick_size": CENT,
                    "min_size": Decimal("1"),
                    "fee_rate": FEE_RATE,
                    "strike": strike,
                    "final_price": final,
                    "status": status,
                    "winner": None if final is None else ("UP" if final >= strike else "DOWN"),
                    "listed_at": w.open_ts - timedelta(hours=24),
                },
            )
            out[(asset, k)] = w
    return out


def _journal(conn: psycopg.Connection, windows: dict, now: datetime) -> None:
    """1 Hz oracle ticks per asset and 1 Hz books per window; ETH's clob is silent 10 s in k=3."""
    rows = []
    for (asset, k), w in windows.items():
        if k < 0:
            continue
        end = min(w.close_ts, now)
        for i in range(int((end - w.open_ts).total_seconds())):
            ts = w.open_ts + timedelta(seconds=i)
            price = SPOT[asset] * (1 + 0.0001 * ((i % 17) - 8))
            rows.append(
                (
                    ts,
                    ts,
                    "oracle",
                    "price",
                    asset,
                    None,
                    None,
                    json.dumps({"price": round(price, 2)}),
                    f"o-{asset}-{ts.timestamp()}",
                )
            )
            if asset == "ETH" and k == 3 and 100 <= i < 110:
                continue
            bid = 0.50 + 0.01 * ((i // 20) % 5)
            book = {
                "bids": [[round(bid, 2), 150], [round(bid - 0.01, 2), 300]],
                "asks": [[round(bid + 0.02, 2), 120], [round(bid + 0.03, 2), 260]],
            }
            rows.append(
                (
                    ts,
                    ts,
                    "clob",
                    "book",
                    asset,
                    w.slug,
                    w.token_up,
                    json.dumps(book),
                    f"b-{w.slug}-{i}",
                )
            )
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY market_events (ts, recv_ts, source, kind, asset, slug, token_id, payload,"
            " dedup_key) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _fee(shares: Decimal, price: Decimal) -> Decimal:
    return (shares * FEE_RATE * price * (1 - price)).quantize(MICRO)


def _order(conn, coid, w, strategy, outcome, side, purpose, shares, price, state, ts, **extra):
    filled = shares if state == "FILLED" else extra.pop("filled", Decimal(0))
    token = w.token_up if outcome == "UP" else w.token_down
    mode = extra.pop("mode", "PAPER")
    _insert(
        conn,
        "orders",
        {
            "client_order_id": coid,
            "mode": mode,
            "run_id": RUN_ID,
            "venue_order_id": None if state in ("REJECTED", "UNKNOWN") else f"0xv{coid}",
            "strategy": strategy,
            "window_slug": w.slug,
            "signal_id": extra.pop("signal_id", None),
            "position_id": extra.pop("position_id", None),
            "token_id": token,
            "outcome": outcome,
            "side": side,
            "purpose": purpose,
            "order_type": "FAK",
            "requested_usd": (shares * price).quantize(CENT),
            "requested_shares": shares,
            "worst_price": min(price + CENT, Decimal("0.99")),
            "filled_shares": filled,
            "avg_price": price if filled else None,
            "fee": _fee(filled, price) if filled else 0,
            "state": state,
            "reason": extra.pop("reason", None),
            "payload": {"tokenID": token, "price": str(price), "size": str(shares), "side": side},
            "created_ts": ts,
            "updated_ts": ts + timedelta(milliseconds=400),
        },
    )
    path = {
        "FILLED": ["SUBMITTED", "ACKED", "FILLED"],
        "REJECTED": ["SUBMITTED", "REJECTED"],
        "UNKNOWN": ["SUBMITTED", "UNKNOWN"],
        "PARTIALLY_FILLED": ["SUBMITTED", "ACKED", "PARTIALLY_FILLED"],
    }[state]
    prev = "NEW"
    for i, nxt in enumerate(path):
        _insert(
            conn,
            "order_events",
            {
                "client_order_id": coid,
                "from_state": prev,
                "to_state": nxt,
                "ts": ts + timedelta(milliseconds=100 * i),
            },
        )
        prev = nxt
    if filled:
        _insert(
            conn,
            "fills",
            {
                "fill_id": f"t-{coid}",
                "client_order_id": coid,
                "mode": mode,
                "run_id": RUN_ID,
                "ts": ts + timedelta(milliseconds=300),
                "price": price,
                "shares": filled,
                "fee": _fee(filled, price),
                "intended_price": extra.pop("intended", price),
                "book_ratio": extra.pop("book_ratio", Decimal("0.08")),
                "impact_flag": extra.pop("impact", False),
            },
        )
    return filled


def _position_events(conn, pid, ts, path):
    prev = None
    for i, (state, fields) in enumerate(path):
        _insert(
            conn,
            "position_events",
            {
                "position_id": pid,
                "ts": ts + timedelta(seconds=i),
                "from_state": prev,
                "to_state": state,
                **fields,
            },
        )
        prev = state


def _trade(conn, w, k, strategy, outcome, price, now, special=""):
    """One signal → decision → entry order → fill → position (→ exit or settlement)."""
    ts = (
        w.close_ts - timedelta(seconds=60) if k > 0 else max(w.open_ts, now - timedelta(seconds=40))
    )
    sid, coid, pid = f"s-{w.slug}-{strategy}", f"c-{w.slug}-{strategy}", f"p-{w.slug}-{strategy}"
    mode = "DRY_RUN" if special == "dry_run" else "PAPER"
    _insert(
        conn,
        "signals",
        {
            "signal_id": sid,
            "ts": ts,
            "mode": mode,
            "run_id": RUN_ID,
            "strategy": strategy,
            "window_slug": w.slug,
            "asset": w.asset,
            "side": outcome,
            "usd": Decimal("1"),
            "max_price": price + CENT,
            "confidence": Decimal("0.54"),
            "inputs": {"clob_mid": str(price), "spot": SPOT[w.asset]},
        },
    )
    _insert(
        conn,
        "decisions",
        {
            "ts": ts,
            "mode": mode,
            "run_id": RUN_ID,
            "signal_id": sid,
            "strategy": strategy,
            "window_slug": w.slug,
            "verdict": "APPROVED",
            "inputs": {"balance_usd": "74.00"},
        },
    )
    shares = (Decimal(1) / price).quantize(CENT, ROUND_DOWN)
    if special == "rejected":
        _order(
            conn,
            coid,
            w,
            strategy,
            outcome,
            "BUY",
            "ENTRY",
            shares,
            price,
            "REJECTED",
            ts,
            signal_id=sid,
            reason="venue: not enough balance / allowance",
        )
        return
    if special == "unknown":
        _order(
            conn,
            coid,
            w,
            strategy,
            outcome,
            "BUY",
            "ENTRY",
            shares,
            price,
            "UNKNOWN",
            ts,
            signal_id=sid,
            reason="no confirmation within 5 s",
        )
        return
    state = "PARTIALLY_FILLED" if special == "partial" else "FILLED"
    filled = _order(
        conn,
        coid,
        w,
        strategy,
        outcome,
        "BUY",
        "ENTRY",
        shares,
        price,
        state,
        ts,
        signal_id=sid,
        position_id=pid,
        filled=Decimal("1.00"),
        mode=mode,
        intended=price - CENT if special == "impact" else price,
        book_ratio=Decimal("0.62") if special == "impact" else Decimal("0.08"),
        impact=special == "impact",
    )
    cost, fees = (filled * price).quantize(MICRO), _fee(filled, price)
    pos = {
        "position_id": pid,
        "mode": mode,
        "run_id": RUN_ID,
        "strategy": strategy,
        "window_slug": w.slug,
        "asset": w.asset,
        "outcome": outcome,
        "token_id": w.token_up if outcome == "UP" else w.token_down,
        "shares": filled,
        "entry_price": price,
        "cost": cost,
        "fees": fees,
        "opened_ts": ts,
        "updated_ts": ts,
    }
    entry = [("ENTRY", {"actual_price": price}), ("MONITORING", {"mark_price": price})]
    if k == 0:
        mark = price + Decimal("0.03") if outcome == "UP" else price - Decimal("0.04")
        pos |= {
            "state": "MONITORING",
            "mark_price": mark,
            "pnl_gross": ((mark - price) * filled).quantize(MICRO),
        }
        _insert(conn, "positions", pos)
        _position_events(conn, pid, ts, entry)
        return
    winner = conn.execute("SELECT winner FROM windows WHERE slug=%s", (w.slug,)).fetchone()[0]
    if special in ("stop", "take_profit"):
        trig_state = "STOP_TRIGGERED" if special == "stop" else "TAKE_PROFIT_TRIGGERED"
        trigger = Decimal("0.45") if special == "stop" else Decimal("0.80")
        actual = trigger - CENT
        xcoid = f"x-{w.slug}-{strategy}"
        _order(
            conn,
            xcoid,
            w,
            strategy,
            outcome,
            "SELL",
            "EXIT",
            filled,
            actual,
            "FILLED",
            ts + timedelta(seconds=30),
            position_id=pid,
            intended=trigger,
        )
        xfee = _fee(filled, actual)
        proceeds = (filled * actual).quantize(MICRO)
        gross = proceeds - cost
        pos |= {
            "state": "CLOSED",
            "exit_price": actual,
            "proceeds": proceeds,
            "fees": fees + xfee,
            "exit_reason": trig_state.lower(),
            "pnl_gross": gross,
            "pnl_net": gross - fees - xfee,
            "mark_price": actual,
            "closed_ts": ts + timedelta(seconds=31),
        }
        _insert(conn, "positions", pos)
        prices = {"trigger_price": trigger, "intended_price": trigger, "reason": special}
        _position_events(
            conn,
            pid,
            ts,
            [
                *entry,
                (trig_state, prices),
                ("EXIT_PENDING", prices),
                ("CLOSED", {**prices, "actual_price": actual}),
            ],
        )
        return
    won = winner == outcome
    proceeds = filled if won else Decimal(0)
    gross = proceeds - cost
    settled = special != "pending"
    pos |= {
        "state": "CLOSED" if settled else "SETTLEMENT",
        "resolution": winner if settled else None,
        "exit_price": Decimal(1 if won else 0) if settled else None,
        "proceeds": proceeds if settled else 0,
        "exit_reason": "expiry",
        "pnl_gross": gross if settled else None,
        "pnl_net": gross - fees if settled else None,
        "mark_price": Decimal(1 if won else 0),
        "closed_ts": w.close_ts + timedelta(seconds=20) if settled else None,
    }
    _insert(conn, "positions", pos)
    tail = [("EXPIRY", {}), ("SETTLEMENT", {})] + (
        [("CLOSED", {"actual_price": pos["exit_price"]})] if settled else []
    )
    _position_events(conn, pid, ts, entry + tail)


def _settlements(conn, windows, pending_slug):
    for (_asset, k), w in windows.items():
        if k <= 0:
            continue
        strike, final, winner = conn.execute(
            "SELECT strike, final_price, winner FROM windows WHERE slug=%s", (w.slug,)
        ).fetchone()
        pending = w.slug == pending_slug
        _insert(
            conn,
            "settlements",
            {
                "window_slug": w.slug,
                "mode": "PAPER",
                "run_id": RUN_ID,
                "ours": winner,
                "venue": None if pending else winner,
                "agreement": "pending" if pending else "agree",
                "rule": "twap_60s",
                "strike": strike,
                "settlement_price": final,
                "ts": w.close_ts + timedelta(seconds=5),
                "confirmed_ts": None if pending else w.close_ts + timedelta(seconds=20),
            },
        )


def _safety(conn, now):
    for minutes in (20, 10, 1):
        for name in ASSERTIONS:
            ok = not (name == "order_confirmed_within_10s" and minutes == 10)
            _insert(
                conn,
                "assertion_results",
                {
                    "ts": now - timedelta(minutes=minutes),
                    "name": name,
                    "ok": ok,
                    "mode": "PAPER",
                    "run_id": RUN_ID,
                    "detail": {} if ok else {"client_order_id": "c-late", "waited_s": 11.2},
                },
            )
    _insert(
        conn,
        "breaker_events",
        {
            "ts": now - timedelta(minutes=10),
            "tripped": True,
            "reason": "assertion order_confirmed_within_10s failed",
            "mode": "PAPER",
            "run_id": RUN_ID,
            "instance_id": INSTANCE_ID,
        },
    )
    _insert(
        conn,
        "breaker_events",
        {
            "ts": now - timedelta(minutes=8),
            "tripped": False,
            "reason": "reset by operator",
            "mode": "PAPER",
            "run_id": RUN_ID,
            "instance_id": INSTANCE_ID,
        },
    )
    _insert(
        conn,
        "reconciliation_runs",
        {
            "ts": now - timedelta(minutes=25),
            "instance_id": INSTANCE_ID,
            "ok": True,
            "venue": {"open_orders": 0, "positions": 0},
        },
    )
    _insert(
        conn,
        "alerts",
        {
            "ts": now - timedelta(minutes=10),
            "kind": "assertion",
            "severity": "critical",
            "message": "order_confirmed_within_10s failed",
        },
    )


def seed_session(url: str, *, now: datetime | None = None, health_url: str | None = None) -> None:
    """Write the seeded PAPER/SANDBOX session into the (migrated, empty) database at `url`."""
    now = now or datetime.now(UTC)
    with psycopg.connect(url) as conn:
        _insert(
            conn,
            "backtest_runs",
            {
                "run_id": RUN_ID,
                "kind": "session",
                "mode": "PAPER",
                "strategy": "canary",
                "started_at": now - timedelta(minutes=25),
            },
        )
        _insert(
            conn,
            "backtest_runs",
            {
                "run_id": "seed-backtest-1",
                "kind": "backtest",
                "mode": "BACKTEST",
                "strategy": "canary",
                "fill_model": "book_walk",
                "latency_ms": {"oracle": 250, "clob": 120},
                "summary": {
                    "lookahead_check": "pass",
                    "windows": 288,
                    "excluded_windows": {"feed_gap": 3, "no_book": 1},
                },
                "started_at": now - timedelta(hours=3),
                "finished_at": now - timedelta(hours=3),
            },
        )
        _insert(
            conn,
            "instances",
            {
                "instance_id": INSTANCE_ID,
                "host": "seed-host",
                "pid": 4242,
                "role": "trader",
                "mode": "PAPER",
                "venue": "SANDBOX",
                "health_url": health_url,
                "lock_held": True,
                "started_at": now - timedelta(minutes=25),
                "last_seen": now,
                "health": health_json(now),
            },
        )
        windows = _windows(conn, now)
        _journal(conn, windows, now)
        specials = {
            ("BTC", 2, "vwap-c"): "stop",
            ("ETH", 1, "canary"): "take_profit",
            ("SOL", 3, "canary"): "partial",
            ("SOL", 1, "canary"): "pending",
            ("ETH", 4, "canary"): "rejected",
            ("BTC", 1, "canary"): "impact",
            ("SOL", 0, "canary"): "dry_run",
            ("ETH", 0, "canary"): "unknown",
        }
        for (asset, k), w in windows.items():
            if k < 0:
                continue
            price = Decimal("0.52") + CENT * ((k * 3 + len(asset)) % 6)
            for strategy in (
                ("canary", "vwap-c")
                if asset == "BTC" and k in (0, 2)
                else ("canary",)
                if k
                else ("canary", "vwap-c")
                if asset == "ETH"
                else ("canary",)
            ):
                outcome = "UP" if (k + len(strategy) + ord(asset[0])) % 2 else "DOWN"
                _trade(
                    conn,
                    w,
                    k,
                    strategy,
                    outcome,
                    price,
                    now,
                    specials.get((asset, k, strategy), ""),
                )
        _insert(
            conn,
            "decisions",
            {
                "ts": windows[("ETH", 2)].close_ts - timedelta(seconds=30),
                "mode": "PAPER",
                "run_id": RUN_ID,
                "strategy": "canary",
                "window_slug": windows[("ETH", 2)].slug,
                "verdict": "DENIED",
                "code": "ORDERS_PER_WINDOW",
                "detail": {"orders_in_window": 2, "cap": 2},
            },
        )
        _settlements(conn, windows, windows[("SOL", 1)].slug)
        _insert(
            conn,
            "feed_gaps",
            {
                "feed": "clob",
                "asset": "ETH",
                "reason": "idle 5 s",
                "start_ts": windows[("ETH", 3)].open_ts + timedelta(seconds=100),
                "end_ts": windows[("ETH", 3)].open_ts + timedelta(seconds=110),
                "instance_id": INSTANCE_ID,
            },
        )
        _balances(conn, now)
        _safety(conn, now)
        _insert(
            conn,
            "promotions",
            {
                "strategy": "canary",
                "target": "paper",
                "file_path": "preregistrations/canary.yaml",
                "file_sha256": "a" * 64,
                "git_commit": "seed",
                "checks": {"seeded": True},
            },
        )


def _balances(conn, now):
    """Venue balance after each settlement equals the expected balance (start 74 + realised net)."""
    rows = conn.execute(
        "SELECT closed_ts, pnl_net FROM positions WHERE state='CLOSED' ORDER BY closed_ts"
    ).fetchall()
    usd = Decimal("74.000000")
    _insert(
        conn,
        "balances",
        {
            "ts": now - timedelta(minutes=25),
            "mode": "PAPER",
            "run_id": RUN_ID,
            "source": "venue",
            "usd": usd,
            "reason": "start",
        },
    )
    for ts, pnl in rows:
        usd += pnl
        for source in ("venue", "expected"):
            _insert(
                conn,
                "balances",
                {
                    "ts": ts,
                    "mode": "PAPER",
                    "run_id": RUN_ID,
                    "source": source,
                    "usd": usd,
                    "reason": "settlement",
                },
            )


@contextmanager
def seeded_database(admin_url: str, template: str, **seed_kwargs) -> Iterator[str]:
    """A fresh database (from the migrated template) holding the seeded session; dropped after.
    This is the one place to swap for "a database filled by a real short sandbox run"."""
    name = f"updown_dash_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = with_database(admin_url, name)
    try:
        seed_session(url, **seed_kwargs)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def seed_health_endpoint(now: datetime | None = None) -> Iterator[str]:
    """SEED stand-in for the runner's GET /health (serves `health_json`); yields its URL."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.dumps(health_json(now or datetime.now(UTC))).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
