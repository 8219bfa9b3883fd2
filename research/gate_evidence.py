"""What the promotion gate reads from the database (research.gate): settled windows, assertion
failures, the trades since the declaration, and the trials logged for a strategy.

Evidence is scoped to the venue (issue 17, migration 005): for `--to live` only positions on the
real venue count (PAPER on real Polymarket data, or LIVE: `positions.venue = 'polymarket'`); for
`--to paper` positions from anywhere (DRY_RUN, BACKTEST) count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg

EVIDENCE_MODES = {"paper": ("DRY_RUN", "BACKTEST"), "live": ("PAPER", "LIVE")}
EVIDENCE_VENUE = {"paper": None, "live": "polymarket"}  # None: any venue, or none (a backtest)


@dataclass(frozen=True, slots=True)
class Window:
    slug: str
    mode: str
    run_id: str | None
    opened_ts: datetime
    closed_ts: datetime
    pnl_net: Decimal | None  # None when any position in it lacks a net P&L
    agreement: str
    venue: str | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    """One closed position: net P&L and stake (USD), fees (USD), shares, entry price (USD per
    share) and whether it won (resolved on its side, or closed with a positive net P&L)."""

    pnl_net: Decimal
    cost: Decimal
    fees: Decimal
    shares: Decimal
    entry_price: Decimal | None
    won: bool

    @property
    def breakeven(self) -> float:
        """(cost + fees) / shares: the win probability at which this trade breaks even."""
        if self.shares <= 0:
            return float(self.entry_price or 0)
        return min(1.0, float((self.cost + self.fees) / self.shares))

    @property
    def return_per_dollar(self) -> float:
        return float(self.pnl_net / self.cost) if self.cost > 0 else 0.0


_WINDOWS_SQL = """
SELECT p.window_slug, p.mode, p.run_id, min(p.opened_ts), max(p.closed_ts),
       CASE WHEN bool_and(p.pnl_net IS NOT NULL) THEN sum(p.pnl_net) END, min(s.agreement),
       min(p.venue)
FROM positions p
JOIN settlements s ON s.window_slug = p.window_slug AND s.mode = p.mode
                  AND coalesce(s.run_id, '') = coalesce(p.run_id, '')
WHERE p.strategy = ANY(%(names)s) AND p.mode = ANY(%(modes)s)
  AND (%(venue)s::text IS NULL OR p.venue = %(venue)s::text)
  AND s.agreement IN ('agree', 'disagree')
GROUP BY p.window_slug, p.mode, p.run_id
HAVING bool_and(p.state = 'CLOSED' AND p.closed_ts IS NOT NULL)
ORDER BY max(p.closed_ts) DESC, p.window_slug DESC
LIMIT %(limit)s
"""


def last_settled_windows(
    conn: psycopg.Connection, names, modes, limit: int, venue: str | None = None
) -> list[Window]:
    """The strategy's most recent settled windows in `modes` (on `venue` if given), newest
    first."""
    params = {"names": list(names), "modes": list(modes), "limit": limit, "venue": venue}
    return [Window(*row) for row in conn.execute(_WINDOWS_SQL, params).fetchall()]


def windows_elsewhere(conn: psycopg.Connection, names, modes, venue: str) -> int:
    """How many settled windows in `modes` were traded on another venue than `venue` (or none):
    the evidence the venue filter left out, for the gate's message."""
    row = conn.execute(
        "SELECT count(DISTINCT (window_slug, mode, run_id)) FROM positions WHERE strategy = "
        "ANY(%s) AND mode = ANY(%s) AND state = 'CLOSED' AND venue IS DISTINCT FROM %s",
        (list(names), list(modes), venue),
    ).fetchone()
    return int(row[0])


_FAILURES_SQL = """
SELECT name, ts, window_slug, mode FROM assertion_results
WHERE NOT ok AND (mode IS NULL OR mode = ANY(%(modes)s))
  AND (run_id IS NULL OR run_id = ANY(%(runs)s))
  AND (window_slug = ANY(%(slugs)s)
       OR (window_slug IS NULL AND ts BETWEEN %(start)s AND %(end)s))
ORDER BY ts
"""


def assertion_failures(conn: psycopg.Connection, windows: list[Window], modes) -> list[tuple]:
    """Failed assertions tied to these windows, or global ones during their time span."""
    params = {
        "modes": list(modes),
        "runs": [w.run_id for w in windows if w.run_id],
        "slugs": [w.slug for w in windows],
        "start": min(w.opened_ts for w in windows),
        "end": max(w.closed_ts for w in windows),
    }
    return conn.execute(_FAILURES_SQL, params).fetchall()


def trades_since(
    conn: psycopg.Connection, names, modes, since: datetime, venue: str | None = None
) -> list[Trade]:
    """Each closed position with a net P&L opened at or after `since` (on `venue` if given), in
    closing order."""
    rows = conn.execute(
        "SELECT pnl_net, cost, fees, shares, entry_price, "
        "coalesce(resolution = outcome, pnl_net > 0) FROM positions "
        "WHERE strategy = ANY(%s) AND mode = ANY(%s) AND (%s::text IS NULL OR venue = %s::text) "
        "AND state = 'CLOSED' AND pnl_net IS NOT NULL AND opened_ts >= %s "
        "ORDER BY closed_ts, position_id",
        (list(names), list(modes), venue, venue, since),
    ).fetchall()
    return [Trade(*row) for row in rows]


def trial_rows(conn: psycopg.Connection, names) -> list[tuple[str, str | None, dict]]:
    """(kind, run_id, metrics) of every trial logged for the strategy's names, oldest first."""
    rows = conn.execute(
        "SELECT kind, run_id, metrics FROM trials WHERE strategy = ANY(%s) ORDER BY id",
        (list(names),),
    ).fetchall()
    return [(k, r, m) for k, r, m in rows]
