"""Startup reconciliation (FM19): the venue's open orders, positions and recent trades against the
database (the balance is recorded with the run for the operator; the engine's balance assertion
checks it continuously). Any mismatch — or any venue query that fails — is a failed reconciliation:
the breaker trips and the runner stays an observer. A failed query is never read as "flat"."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from psycopg_pool import ConnectionPool

SHARE_TOLERANCE = Decimal("0.01")  # dust below 0.01 share counts as equal (DESIGN §4)


@dataclass(frozen=True, slots=True)
class BookSide:
    """What one side (DB or venue) says we hold: token -> shares, open venue order ids."""

    positions: dict[str, Decimal]
    open_orders: frozenset[str]
    balance: Decimal | None = None
    # DB: every venue order id we ever sent; venue: the order ids of our recent trades
    traded_orders: frozenset[str] = frozenset()


@dataclass
class Reconciliation:
    ok: bool
    differences: list[dict] = field(default_factory=list)
    error: str | None = None


def compare(db: BookSide, venue: BookSide) -> list[dict]:
    """Every difference between the DB's and the venue's view, as plain dicts."""
    diffs: list[dict] = []
    for token in sorted(set(db.positions) | set(venue.positions)):
        ours, theirs = db.positions.get(token, Decimal(0)), venue.positions.get(token, Decimal(0))
        if abs(ours - theirs) >= SHARE_TOLERANCE:
            diffs.append(
                {"kind": "position", "token_id": token, "db": str(ours), "venue": str(theirs)}
            )
    for order_id in sorted(db.open_orders - venue.open_orders):
        diffs.append({"kind": "open_order_missing_at_venue", "venue_order_id": order_id})
    for order_id in sorted(venue.open_orders - db.open_orders):
        diffs.append({"kind": "open_order_unknown_to_db", "venue_order_id": order_id})
    for order_id in sorted(venue.traded_orders - db.traded_orders):
        diffs.append({"kind": "trade_unknown_to_db", "venue_order_id": order_id})
    return diffs


def db_side(pool: ConnectionPool, mode: str) -> BookSide:
    """Open positions (shares per token) and open venue orders the DB believes in."""
    with pool.connection() as conn:
        positions = {
            token: Decimal(shares)
            for token, shares in conn.execute(
                """SELECT token_id, sum(shares) FROM positions
                   WHERE mode = %s AND state NOT IN ('CLOSED') GROUP BY token_id""",
                (mode,),
            )
            if Decimal(shares) > 0
        }
        orders = frozenset(
            r[0]
            for r in conn.execute(
                """SELECT venue_order_id FROM orders WHERE mode = %s AND venue_order_id IS NOT NULL
                   AND state IN ('ACKED', 'PARTIALLY_FILLED') AND order_type IN ('GTC', 'GTD')""",
                (mode,),
            )
        )
        sent = frozenset(
            r[0]
            for r in conn.execute(
                "SELECT venue_order_id FROM orders WHERE mode = %s AND venue_order_id IS NOT NULL",
                (mode,),
            )
        )
    return BookSide(positions, orders, traded_orders=sent)


def record(pool: ConnectionPool, instance_id: str, result: Reconciliation, venue: dict) -> None:
    with pool.connection() as conn:
        conn.execute(
            """INSERT INTO reconciliation_runs (instance_id, ok, differences, venue, error)
               VALUES (%s, %s, %s, %s, %s)""",
            (
                instance_id,
                result.ok,
                json.dumps(result.differences),
                json.dumps(venue, default=str),
                result.error,
            ),
        )
