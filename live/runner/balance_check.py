"""The balance in the startup reconciliation (issue 15): the venue's collateral balance against
the ledger the database implies — the last `expected` balance row (our cash book, USDC) of the
mode — compared only when that row still describes our cash now, i.e. the book has been at rest
since it was written:

- no fill still settling (MATCHED, MINED, RETRYING) and no redemption PENDING (their cash is on
  its way: neither side is final);
- nothing changed since the row: no order updated (a fill, a FAILED trade reversed) at or after
  its instant, no settlement and no redemption confirmed after it (both write the row themselves,
  at their own instant, once their cash is booked);
- no open position on a window already closed (a venue that pays at resolution may have paid it);
- the row's run is this wallet's: the venue's recent trades include an order that run sent (the
  database does not name its wallet; without that evidence a new key or a new database would
  read as a difference).

Then a difference above 1e-6 USDC is a reconciliation difference like the others (the runner
stays an observer, `reconciliation_mismatch`); otherwise the check says why it was not made
(`/health` `reconciliation.balance`). A LIVE start after a crash usually skips it (the killed run
left something moving); the engine's assertion 5 compares the balance continuously after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

TOLERANCE_USD = Decimal("0.000001")
SETTLING = ("MATCHED", "MINED", "RETRYING")


@dataclass(frozen=True)
class LedgerAtRest:
    """The database's implied ledger: the cash (USDC) of the last `expected` row, its instant
    (epoch ms) and run, and the venue order ids that run sent; or why there is none at rest."""

    usd: Decimal | None
    ts: int | None = None
    run_id: str | None = None
    run_orders: frozenset[str] = frozenset()
    why_not: str | None = None


def ledger_at_rest(conn: psycopg.Connection, mode: str, now_ms: int) -> LedgerAtRest:
    """The last `expected` balance row of `mode`, if the book has been at rest since (see the
    module docstring); else `usd` None and `why_not` says what moves."""
    row = conn.execute(
        "SELECT ts, usd, run_id FROM balances WHERE mode = %s AND source = 'expected' "
        "ORDER BY ts DESC, id DESC LIMIT 1",
        (mode,),
    ).fetchone()
    if row is None:
        return LedgerAtRest(None, why_not="no ledger balance recorded yet")
    ts, usd, run_id = row
    checks = (
        (
            "a fill still settling",
            "SELECT 1 FROM fills f JOIN orders o USING (client_order_id) "
            "WHERE o.mode = %s AND f.status = ANY(%s) LIMIT 1",
            (mode, list(SETTLING)),
        ),
        (
            "a redemption pending",
            "SELECT 1 FROM redemptions WHERE mode = %s AND status = 'PENDING' LIMIT 1",
            (mode,),
        ),
        (
            "an order changed since the ledger's last balance",
            "SELECT 1 FROM orders WHERE mode = %s AND updated_ts >= %s LIMIT 1",
            (mode, ts),
        ),
        (
            "a settlement since the ledger's last balance",
            "SELECT 1 FROM settlements WHERE mode = %s AND ts > %s LIMIT 1",
            (mode, ts),
        ),
        (
            "a redemption since the ledger's last balance",
            "SELECT 1 FROM redemptions WHERE mode = %s AND redeemed_ts > %s LIMIT 1",
            (mode, ts),
        ),
        (
            "an open position on a closed window",
            "SELECT 1 FROM positions p JOIN windows w ON w.slug = p.window_slug "
            "AND w.venue = coalesce(p.venue, w.venue) "
            "WHERE p.mode = %s AND p.state <> 'CLOSED' AND w.close_ts <= %s LIMIT 1",
            (mode, datetime.fromtimestamp(now_ms / 1000, tz=UTC)),
        ),
    )
    for why, sql, args in checks:
        if conn.execute(sql, args).fetchone() is not None:
            return LedgerAtRest(None, why_not=why)
    sent = frozenset(
        r[0]
        for r in conn.execute(
            "SELECT venue_order_id FROM orders WHERE run_id = %s AND venue_order_id IS NOT NULL",
            (run_id,),
        )
    )
    return LedgerAtRest(Decimal(usd), int(ts.timestamp() * 1000), run_id, sent)


def compare_balance(
    ledger: LedgerAtRest, venue_usd: Decimal | None, venue_traded: frozenset[str]
) -> tuple[list[dict], dict[str, Any]]:
    """(differences, the check's note for `/health`): a `balance` difference when the venue's
    balance and the ledger at rest differ by more than 1e-6 USDC."""
    if ledger.usd is None:
        return [], {"compared": False, "why": ledger.why_not}
    if venue_usd is None:
        return [], {"compared": False, "why": "the venue reported no balance"}
    if not ledger.run_orders & venue_traded:
        why = f"no recent venue trade of run {ledger.run_id}: another wallet's ledger?"
        return [], {"compared": False, "why": why}
    note = {"compared": True, "db": str(ledger.usd), "venue": str(venue_usd)}
    if abs(Decimal(venue_usd) - ledger.usd) <= TOLERANCE_USD:
        return [], note
    diff = {
        "kind": "balance",
        "db": str(ledger.usd),
        "venue": str(venue_usd),
        "db_ts": ledger.ts,
        "run_id": ledger.run_id,
    }
    return [diff], note
