"""Which balance row describes which instant: the boundaries checklist items 8 and 10 measure
between when several windows' cash moves at (nearly) the same instant.

Balance rows and the cash they hold are stamped on different clocks:
- LIVE `venue` rows: when the runner's balance query began, on its venue-corrected clock (the
  wall clock plus an offset measured against the venue's whole-second server time, so up to about
  a second off), while a fill carries the wall time its confirmation arrived and a settlement the
  venue's resolution time. The venue moved a fill's cash at the match, which lies between the
  order's send and that arrival (seconds apart when the venue answered "delayed"). A report
  that began just after two entries filled can be stamped
  before the orders were created; one holding two payouts can be stamped between them.
- PAPER / DRY_RUN `engine` rows (the simulated venue) and `expected` rows: written by the engine
  at a settlement, on the clock of its fills, but a row written at the instant a fill happened
  does not say whether it holds it (the next period's entries may fill at that very instant).

A row whose stamp is that close to a movement of cash may or may not hold it. So the checks only
measure between rows that describe one instant — no fill or payout among the instants a LIVE row
may describe, no fill at the stamp itself in PAPER / DRY_RUN (a settlement's own payouts are in its
rows) — and step past the others. The balance change between two such rows is then compared with
the combined ledger change of every window whose cash moved in between, which the evidence names.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from live.reports.canary_data import RunData

# A LIVE venue row stamped `s` describes an instant in [s - LATE, s + EARLY] on the fills' clock:
# its stamp is the runner's wall clock plus an offset measured against the venue's whole-second
# server time (floored), so it runs up to 1 s early, give or take half a query's round trip.
VENUE_STAMP_EARLY = timedelta(seconds=1.5)
VENUE_STAMP_LATE = timedelta(seconds=0.5)


def stamp_uncertainty(run: RunData) -> tuple[timedelta, timedelta]:
    """(late, early): how far before and after its stamp a venue row's instant may lie; zero for
    the engine's own rows (PAPER / DRY_RUN), stamped on the clock of its fills."""
    if run.mode == "LIVE":
        return VENUE_STAMP_LATE, VENUE_STAMP_EARLY
    return timedelta(0), timedelta(0)


def describes_one_instant(run: RunData, row: dict) -> bool:
    """True when no cash movement is so near `row`'s stamp that the row may or may not hold it."""
    late, early = stamp_uncertainty(run)
    for event in run.cash_events():
        if event.usd == 0:
            continue  # a losing position's settlement moves nothing
        # LIVE: the venue moved a fill's cash at its match, anywhere between the order's send
        # and the fill's stamp (a "delayed" match is heard of seconds later)
        start = event.since if event.since is not None else event.ts
        if early and start <= row["ts"] + early and event.ts >= row["ts"] - late:
            return False
        if not early and event.ts == row["ts"] and event.kind == "fill":
            return False
    return True


def balance_before(run: RunData, source: str, ts: datetime) -> dict | None:
    """The latest balance of `source` stamped before `ts` that describes one instant."""
    rows = [b for b in run.balances_of(source) if b["ts"] < ts]
    return next((b for b in reversed(rows) if describes_one_instant(run, b)), None)


def balance_at_or_after(run: RunData, source: str, ts: datetime) -> dict | None:
    """The first balance of `source` stamped at or after `ts` that describes one instant."""
    rows = [b for b in run.balances_of(source) if b["ts"] >= ts]
    return next((b for b in rows if describes_one_instant(run, b)), None)


def windows_between(run: RunData, start: datetime, end: datetime) -> list[str]:
    """Every window whose fills or settlement fall in (start, end], sorted."""
    return sorted({e.window_slug for e in run.cash_events() if start < e.ts <= end})


def settled_balances(run: RunData, settled: datetime) -> tuple[dict | None, dict | None]:
    """Item 8's pair for a settlement at `settled`: the first venue balance from then on that is
    comparable with the ledger, and the ledger's `expected` balance for that same instant (its
    latest row, with no cash moved between the two). (None, None) when no venue row is comparable;
    the expected row is None when the ledger never recorded this settlement.

    LIVE: a venue row must describe one instant (see the module). PAPER / DRY_RUN: the engine
    writes its venue and expected rows together, so the first at or after `settled` pairs."""
    for venue in (b for b in run.balances_of("venue") if b["ts"] >= settled):
        if run.mode == "LIVE" and not describes_one_instant(run, venue):
            continue
        expected = run.balance_at_or_before("expected", venue["ts"])
        if expected is None or expected["ts"] < settled:
            return venue, None
        moved = [e for e in run.cash_events() if expected["ts"] < e.ts <= venue["ts"] and e.usd]
        if not moved:
            return venue, expected
    return None, None
