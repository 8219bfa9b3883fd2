"""The ten runtime assertions of the spec (Phase 1), as functions over the engine's `Evidence`.

The engine hands over an `Evidence` (its books, ledger, controls and clock; the checks only read
it); each check returns (ok, detail) and `run_all` turns them into AssertionRecords (stored); the
engine trips the breaker on any failure. A check that lacks its evidence (no venue snapshot yet,
no tick durations reported) passes with `checked: false` in its detail, so the dashboard shows it
was not verified.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from live.kernel.controls import Controls
from live.kernel.domain import (
    DUST_SHARES,
    TERMINAL_ORDER_STATES,
    ZERO,
    Mode,
    OrderPurpose,
    OrderState,
)
from live.kernel.ledger import Ledger
from live.kernel.order_book import OrderBook
from live.kernel.positions import PositionBook
from live.kernel.records import AssertionRecord
from live.kernel.risk import ENTRY_CUTOFF_MS
from live.kernel.state import WindowState

CONFIRM_WITHIN_MS = 10_000
MAX_TICK_MS = 5_000
Result = tuple[bool, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the checks look at, at `now`: our orders and positions, the windows, the approved
    signals (signal id → decision ts), the controls, the ledger (ours and the venue's balances
    and holdings) and the longest tick the runner reported (ms). The checks only read it."""

    now: int
    mode: Mode
    run_id: str
    orders: OrderBook
    positions: PositionBook
    windows: Mapping[str, WindowState]
    approved: Mapping[str, int]
    controls: Controls
    ledger: Ledger
    max_tick_ms: int


def signal_exactly_one_order(e: Evidence) -> Result:
    """1. Every approved signal → exactly one entry order (no duplicates, no gaps)."""
    per_signal = Counter(
        o.signal_id for o in e.orders if o.purpose is OrderPurpose.ENTRY and o.signal_id
    )
    bad = {s: per_signal.get(s, 0) for s in e.approved if per_signal.get(s, 0) != 1}
    bad.update({s: n for s, n in per_signal.items() if s not in e.approved})
    return not bad, {"signals": len(e.approved), "bad": dict(list(bad.items())[:10])}


def order_confirmed_within_10s(e: Evidence) -> Result:
    """2. Every order is final (filled, cancelled or explicitly rejected) within 10 s — the
    venue's match answer counts as the confirmation — and, a separate bound, every matched fill
    reaches its on-chain outcome (CONFIRMED or FAILED) within `settle_bound_ms` (60 s)."""
    late = [
        o.client_order_id
        for o in e.orders
        if o.state not in TERMINAL_ORDER_STATES and e.now - o.created_ts > CONFIRM_WITHIN_MS
    ]
    unsettled = e.orders.overdue_unsettled(e.now)
    detail: dict[str, Any] = {"late": late[:10]}
    if e.orders.unsettled:
        detail["settling"] = len(e.orders.unsettled)
    if unsettled:
        detail["unsettled_past_bound"] = unsettled[:10]
        detail["settle_bound_ms"] = e.orders.settle_bound_ms
    return not late and not unsettled, detail


def fill_has_position(e: Evidence) -> Result:
    """3. Every entry fill has its position record (created in the same step)."""
    missing = [
        o.client_order_id
        for o in e.orders
        if o.purpose is OrderPurpose.ENTRY
        and o.filled_shares > 0
        and o.position_id not in e.positions.positions
    ]
    return not missing, {"missing": missing[:10]}


def position_count_matches_venue(e: Evidence) -> Result:
    """4. Our open (unresolved) positions, by token, equal the venue's open (non-redeemable)
    ones. The venue's redeemable rows are tracked apart: each must be a position of ours that
    resolved and awaits redemption (or one redeemed already that the lagging index still
    lists); a pending one the venue no longer lists may have been redeemed unseen (assertion 5
    bounds how long a receivable may stay pending)."""
    venue = _venue_holdings(e)
    if venue is None:
        return True, {"checked": False}
    ours: dict[str, Decimal] = {}
    for p in e.positions.open_positions():
        if p.shares >= DUST_SHARES:
            ours[p.token_id] = ours.get(p.token_id, ZERO) + p.shares
    held = {t: s for t, s in venue.items() if s >= DUST_SHARES}
    diff = {t: (str(ours.get(t)), str(held.get(t))) for t in sorted(set(ours) | set(held))}
    diff = {t: v for t, v in diff.items() if v[0] != v[1]}
    receivables = e.ledger.receivables
    awaiting, redeemed = receivables.tokens(), receivables.redeemed_tokens()
    redeemable = {t: s for t, s in e.ledger.venue_redeemable.items() if s >= DUST_SHARES}
    stray = {
        t: (str(awaiting.get(t)), str(s))
        for t, s in sorted(redeemable.items())
        if awaiting.get(t) != s and t not in redeemed
    }
    detail = {
        "ours": len(ours),
        "venue": len(held),
        "diff": dict(list(diff.items())[:5]),
        "awaiting_redemption": len(awaiting),
        "venue_redeemable": len(redeemable),
        "redeemable_diff": dict(list(stray.items())[:5]),
    }
    return not diff and not stray, detail


def _venue_holdings(e: Evidence) -> dict[str, Decimal] | None:
    ledger = e.ledger
    if ledger.venue is not None:
        return dict(ledger.venue.holdings_snapshot())
    if ledger.venue_positions is None or ledger.venue_positions[0] < ledger.holdings_report_due_ts:
        return None  # none yet, or taken before our last change had reached the Data API
    return ledger.venue_positions[1]


def settlement_pnl_matches_balance(e: Evidence) -> Result:
    """5. P&L of settled positions equals the balance change: start + realised net P&L − cost and
    fees still tied up in open positions − receivables (resolved, awaiting redemption) == the
    venue's balance. A redemption the venue has paid but we have not yet seen confirmed may
    explain the difference only by whole windows' receivables (pending, not failed); a
    receivable still pending past the bound fails."""
    ledger = e.ledger
    venue = ledger.venue_cash
    if venue is None or ledger.initial_cash is None:
        return True, {"checked": False}
    report = ledger.venue_balance
    stale = report is not None and report[0] < ledger.book_changed_ts
    if ledger.venue is None and stale:  # taken before our last fill/settlement: another instant
        return True, {"checked": False, "stale": True}
    realised = sum((p.pnl_net for p in e.positions if p.pnl_net is not None), start=ZERO)
    tied = sum((p.cost + p.fees - p.proceeds for p in e.positions if p.pnl_net is None), start=ZERO)
    receivables = ledger.receivables
    receivable = receivables.total
    expected = ledger.initial_cash + realised - tied - receivable
    landed = receivables.landed(venue - expected)
    overdue = receivables.overdue(e.now, ledger.redeem_bound_ms)
    detail: dict[str, Any] = {
        "expected": str(expected),
        "venue": str(venue),
        "ledger": str(ledger.cash),
        "receivable": str(receivable),
        "awaiting_redemption": len(receivables.pending),
    }
    if landed:
        detail["redeemed_unconfirmed"] = list(landed)
    if overdue:
        detail["overdue"] = sorted({r.window_slug for r in overdue})[:5]
        detail["bound_ms"] = ledger.redeem_bound_ms
    return landed is not None and not overdue, detail


def no_null_order_ids(e: Evidence) -> Result:
    """6. Every order has a client id, and a venue id once acknowledged."""
    acked = (OrderState.ACKED, OrderState.PARTIALLY_FILLED, OrderState.FILLED)
    bad = [
        o.client_order_id
        for o in e.orders
        if not o.client_order_id or (o.state in acked and not o.venue_order_id)
    ]
    return not bad, {"bad": bad[:10]}


def positions_on_allowed_instruments(e: Evidence) -> Result:
    """7. No open position on an instrument outside allowed_instruments (opened while allowed
    and not yet closed counts: tightening the control shows up here until it is flat)."""
    bad = [
        p.position_id
        for p in e.positions.open_positions()
        if not e.controls.instrument_allowed(str(p.asset))
    ]
    return not bad, {"bad": bad[:10]}


def no_entries_on_future_windows(e: Evidence) -> Result:
    """8. Every entry order was created inside its window's entry period."""
    bad = []
    for o in e.orders:
        if o.purpose is not OrderPurpose.ENTRY:
            continue
        w = e.windows[o.window_slug].window
        if not (w.open_ts <= o.created_ts < w.close_ts - ENTRY_CUTOFF_MS):
            bad.append(o.client_order_id)
    return not bad, {"bad": bad[:10]}


def deployed_within_session_loss(e: Evidence) -> Result:
    """9. Capital deployed in open positions ≤ max_session_loss."""
    deployed = sum((e.positions.exposure(p) for p in e.positions.open_positions()), start=ZERO)
    limit = e.controls.max_session_loss
    return deployed <= limit, {"deployed": str(deployed), "max_session_loss": str(limit)}


def tick_under_5s(e: Evidence) -> Result:
    """10. No tick took longer than 5 s (durations are reported by the runner)."""
    if e.max_tick_ms == 0:
        return True, {"checked": False}
    return e.max_tick_ms <= MAX_TICK_MS, {"max_tick_ms": e.max_tick_ms}


ASSERTIONS: tuple[tuple[str, Callable[[Evidence], Result]], ...] = (
    ("signal_exactly_one_order", signal_exactly_one_order),
    ("order_confirmed_within_10s", order_confirmed_within_10s),
    ("fill_has_position", fill_has_position),
    ("position_count_matches_venue", position_count_matches_venue),
    ("settlement_pnl_matches_balance", settlement_pnl_matches_balance),
    ("no_null_order_ids", no_null_order_ids),
    ("positions_on_allowed_instruments", positions_on_allowed_instruments),
    ("no_entries_on_future_windows", no_entries_on_future_windows),
    ("deployed_within_session_loss", deployed_within_session_loss),
    ("tick_under_5s", tick_under_5s),
)


# What a person does about a failure: the detail names the rows, this says where to look.
ACTIONS: dict[str, str] = {
    "signal_exactly_one_order": "'bad' maps signal id -> entry orders (0: approved but never "
    "sent, >1: sent twice); compare decisions and orders of those signals",
    "order_confirmed_within_10s": "'late' orders have no final state after 10 s: look them up "
    "at the venue (open orders, trades) and reconcile",
    "fill_has_position": "'missing' entry orders have fills but no position: rebuild the "
    "position from the fills table before trading again",
    "position_count_matches_venue": "'diff' is token -> (ours, venue's) shares: reconcile "
    "positions with the venue's holdings (updown reconcile)",
    "settlement_pnl_matches_balance": "the venue's balance differs from start + realised P&L - "
    "open cost - receivables: compare fills, fees and redemptions with the venue's history",
    "no_null_order_ids": "'bad' orders lack a client id or, once acknowledged, the venue's id: "
    "find them at the venue by client id and market",
    "positions_on_allowed_instruments": "'bad' positions are on instruments no longer allowed: "
    "flatten them or widen allowed_instruments",
    "no_entries_on_future_windows": "'bad' entry orders were created outside their window's "
    "entry period: check the clock offset and the window listing",
    "deployed_within_session_loss": "capital in open positions exceeds max_session_loss: "
    "flatten or raise the control (audited)",
    "tick_under_5s": "a tick took longer than 5 s: look for a hung database write or feed "
    "handler (runner /health, store latency)",
}


def run_all(e: Evidence, window_slug: str | None = None) -> list[AssertionRecord]:
    """Every assertion's result at e.now, in the spec's order; a failure's detail carries an
    `action` line (ACTIONS) beside the rows it names."""
    out = []
    for name, check in ASSERTIONS:
        ok, detail = check(e)
        if not ok:
            detail = {**detail, "action": ACTIONS[name]}
        out.append(AssertionRecord(e.now, name, ok, detail, e.mode, e.run_id, window_slug))
    return out
