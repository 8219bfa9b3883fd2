"""The schema's constraints reject bad rows (the last line of defence behind the engine)."""

from __future__ import annotations

import psycopg
import pytest

ORDER_COLUMNS = (
    "client_order_id, venue_order_id, mode, strategy, window_slug, token_id, outcome, side, "
    "purpose, order_type, worst_price, state, created_ts, updated_ts"
)


def insert_order(conn, **overrides):
    row = {
        "client_order_id": "c-1",
        "venue_order_id": None,
        "mode": "LIVE",
        "strategy": "canary",
        "window_slug": "btc-updown-5m-1780876500",
        "token_id": "tok-up",
        "outcome": "UP",
        "side": "BUY",
        "purpose": "ENTRY",
        "order_type": "FAK",
        "worst_price": "0.55",
        "state": "NEW",
    } | overrides
    conn.execute(
        f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES (%(client_order_id)s, %(venue_order_id)s, "
        "%(mode)s, %(strategy)s, %(window_slug)s, %(token_id)s, %(outcome)s, %(side)s, "
        "%(purpose)s, %(order_type)s, %(worst_price)s, %(state)s, now(), now())",
        row,
    )


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as c:
        yield c


def test_order_without_client_order_id_is_rejected(conn):
    with pytest.raises(psycopg.errors.NotNullViolation):
        insert_order(conn, client_order_id=None)


def test_order_with_empty_client_order_id_is_rejected(conn):
    with pytest.raises(psycopg.errors.CheckViolation):
        insert_order(conn, client_order_id="")


def test_duplicate_client_order_id_is_rejected(conn):
    insert_order(conn)
    with pytest.raises(psycopg.errors.UniqueViolation):
        insert_order(conn)


@pytest.mark.parametrize("state", ["ACKED", "PARTIALLY_FILLED", "FILLED"])
def test_acknowledged_order_without_venue_id_is_rejected(conn, state):
    with pytest.raises(psycopg.errors.CheckViolation, match="orders_venue_id_when_acked"):
        insert_order(conn, state=state)


def test_acknowledged_order_with_venue_id_is_accepted(conn):
    insert_order(conn, state="FILLED", venue_order_id="0xabc")
    assert conn.execute("SELECT state FROM orders").fetchone() == ("FILLED",)


def test_order_cannot_lose_its_venue_id_once_filled(conn):
    insert_order(conn, state="FILLED", venue_order_id="0xabc")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE orders SET venue_order_id = NULL")


@pytest.mark.parametrize("table", ["orders", "fills", "positions"])
def test_unknown_mode_is_rejected(conn, table):
    if table == "orders":
        with pytest.raises(psycopg.errors.CheckViolation):
            insert_order(conn, mode="SIMULATED")
        return
    insert_order(conn, state="FILLED", venue_order_id="v-1")
    sql = {
        "fills": "INSERT INTO fills (fill_id, client_order_id, mode, ts, price, shares) "
        "VALUES ('f-1', 'c-1', 'SIMULATED', now(), 0.5, 2)",
        "positions": "INSERT INTO positions (position_id, mode, strategy, window_slug, asset, "
        "outcome, token_id, state, opened_ts, updated_ts) VALUES ('p-1', 'SIMULATED', 'canary', "
        "'s', 'BTC', 'UP', 't', 'ENTRY', now(), now())",
    }[table]
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(sql)


def test_unknown_order_state_is_rejected(conn):
    with pytest.raises(psycopg.errors.CheckViolation):
        insert_order(conn, state="PENDING")


def test_money_columns_are_numeric_never_float(conn):
    rows = conn.execute(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'public' AND data_type IN ('real', 'double precision')"""
    ).fetchall()
    assert rows == []
    money = conn.execute(
        """SELECT table_name || '.' || column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'public' AND column_name IN
             ('worst_price', 'price', 'shares', 'fee', 'pnl_gross', 'pnl_net', 'usd', 'cost')"""
    ).fetchall()
    assert money and {t for _, t in money} == {"numeric"}


def test_operator_column_names_exist(conn):
    expected = {
        "orders": {"client_order_id", "venue_order_id", "mode", "strategy", "window_slug", "state"},
        "positions": {
            "position_id",
            "mode",
            "strategy",
            "window_slug",
            "state",
            "pnl_gross",
            "pnl_net",
        },
        "settlements": {"window_slug", "ours", "venue", "agreement"},
        "assertion_results": {"name", "ok", "detail", "ts"},
        "decisions": {"strategy", "window_slug", "verdict", "code", "ts"},
    }
    for table, columns in expected.items():
        have = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                (table,),
            )
        }
        assert columns <= have, f"{table} lacks {columns - have}"


def test_fill_amounts_must_be_positive(conn):
    insert_order(conn, state="FILLED", venue_order_id="v-1")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO fills (fill_id, client_order_id, mode, ts, price, shares) "
            "VALUES ('f-1', 'c-1', 'LIVE', now(), 0.5, -1)"
        )
