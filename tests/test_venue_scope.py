"""Migration 005: a session's positions inherit the venue of its run, and one slug may be listed
by both venues (the sandbox lists Polymarket's slugs)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from live.kernel.domain import Mode
from live.store.sink import Sink
from research.store import upsert_windows

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def _position(conn, pid: str, run_id: str | None) -> str | None:
    conn.execute(
        "INSERT INTO positions (position_id, mode, run_id, strategy, window_slug, asset, outcome,"
        " token_id, state, opened_ts, updated_ts) VALUES (%s,'PAPER',%s,'canary',"
        "'btc-updown-5m-1','BTC','UP','tok','ENTRY',%s,%s)",
        (pid, run_id, T0, T0),
    )
    return conn.execute("SELECT venue FROM positions WHERE position_id = %s", (pid,)).fetchone()[0]


def test_positions_inherit_their_runs_venue(db_url):
    with psycopg.connect(db_url) as conn:
        for venue in ("sandbox", "polymarket", None):
            Sink(conn, f"run-{venue}").open_run(kind="session", mode=Mode.PAPER, venue=venue)
        assert _position(conn, "p-sandbox", "run-sandbox") == "sandbox"
        assert _position(conn, "p-real", "run-polymarket") == "polymarket"
        assert _position(conn, "p-none", "run-None") is None  # a run with no venue
        assert _position(conn, "p-orphan", None) is None  # no run at all


def test_one_slug_listed_by_both_venues(db_url):
    slug = "btc-updown-5m-1769904000"
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO windows (slug, venue, asset, length_s, open_ts, close_ts) VALUES "
            "(%s, 'sandbox', 'BTC', 300, %s, %s)",
            (slug, T0, T0.replace(minute=5)),
        )
        window = {"kind": "window", "slug": slug, "asset": "btc", "length_s": 300,
                  "open_ts": int(T0.timestamp() * 1000), "close_ts": int(T0.timestamp() * 1000)
                  + 300_000, "condition_id": "0xc", "token_up": "u", "token_down": "d",
                  "tick_size": 0.01, "min_size": 5, "fee_rate": 0.02, "settlement_rule": "twap_60s",
                  "strike": 100000}  # fmt: skip
        upsert_windows(conn, [(0, None, "gamma", window)] * 2)  # twice: an upsert, not a clash
        rows = conn.execute(
            "SELECT venue, token_up FROM windows WHERE slug = %s ORDER BY venue", (slug,)
        ).fetchall()
        assert rows == [("polymarket", "u"), ("sandbox", None)]
