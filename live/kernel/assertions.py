"""The ten runtime assertions of the spec (Phase 1), as functions over engine state.

Each returns an AssertionRecord (stored); the engine trips the breaker on any failure. A check
that lacks its evidence (no venue snapshot yet, no tick durations reported) passes with
`checked: false` in its detail, so the dashboard shows it was not verified.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from live.kernel.domain import DUST_SHARES, TERMINAL_ORDER_STATES, ZERO, OrderPurpose, OrderState
from live.kernel.records import AssertionRecord
from live.kernel.risk import ENTRY_CUTOFF_MS

if TYPE_CHECKING:
    from live.kernel.engine import Engine

CONFIRM_WITHIN_MS = 10_000
MAX_TICK_MS = 5_000
Result = tuple[bool, dict[str, Any]]


def signal_exactly_one_order(e: Engine) -> Result:
    """1. Every approved signal → exactly one entry order (no duplicates, no gaps)."""
    per_signal = Counter(
        o.signal_id for o in e.orders if o.purpose is OrderPurpose.ENTRY and o.signal_id
    )
    bad = {s: per_signal.get(s, 0) for s in e.entries.approved if per_signal.get(s, 0) != 1}
    bad.update({s: n for s, n in per_signal.items() if s not in e.entries.approved})
    return not bad, {"signals": len(e.entries.approved), "bad": dict(list(bad.items())[:10])}


def order_confirmed_within_10s(e: Engine) -> Result:
    """2. Every order is final (filled, cancelled or explicitly rejected) within 10 s."""
    late = [
        o.client_order_id
        for o in e.orders
        if o.state not in TERMINAL_ORDER_STATES and e.now - o.created_ts > CONFIRM_WITHIN_MS
    ]
    return not late, {"late": late[:10]}


def fill_has_position(e: Engine) -> Result:
    """3. Every entry fill has its position record (created in the same step)."""
    missing = [
        o.client_order_id
        for o in e.orders
        if o.purpose is OrderPurpose.ENTRY
        and o.filled_shares > 0
        and o.position_id not in e.positions.positions
    ]
    return not missing, {"missing": missing[:10]}


def position_count_matches_venue(e: Engine) -> Result:
    """4. Our open positions (by token) equal the venue's."""
    venue = _venue_holdings(e)
    if venue is None:
        return True, {"checked": False}
    ours: dict[str, Decimal] = {}
    for p in e.positions.open_positions():
        if p.shares >= DUST_SHARES:
            ours[p.token_id] = ours.get(p.token_id, ZERO) + p.shares
    held = {t: s for t, s in venue.items() if s >= DUST_SHARES}
    diff = {t: (str(ours.get(t)), str(held.get(t))) for t in set(ours) | set(held)}
    diff = {t: v for t, v in diff.items() if v[0] != v[1]}
    return not diff, {"ours": len(ours), "venue": len(held), "diff": dict(list(diff.items())[:5])}


def _venue_holdings(e: Engine) -> dict[str, Decimal] | None:
    if e.executor is not None:
        return dict(e.executor.holdings_snapshot())
    if e.venue_positions is None or e.venue_positions[0] < e.book_changed_ts:
        return None  # none yet, or taken before our last fill/settlement: another instant
    return e.venue_positions[1]


def settlement_pnl_matches_balance(e: Engine) -> Result:
    """5. P&L of settled positions equals the balance change: start + realised net P&L − cost and
    fees still tied up in open positions == the venue's balance."""
    venue = e.venue_cash
    if venue is None or e.initial_cash is None:
        return True, {"checked": False}
    stale = e.venue_balance is not None and e.venue_balance[0] < e.book_changed_ts
    if e.executor is None and stale:  # taken before our last fill/settlement: another instant
        return True, {"checked": False, "stale": True}
    realised = sum((p.pnl_net for p in e.positions if p.pnl_net is not None), start=ZERO)
    tied = sum((p.cost + p.fees - p.proceeds for p in e.positions if p.pnl_net is None), start=ZERO)
    expected = e.initial_cash + realised - tied
    ok = expected == venue
    return ok, {"expected": str(expected), "venue": str(venue), "ledger": str(e.cash)}


def no_null_order_ids(e: Engine) -> Result:
    """6. Every order has a client id, and a venue id once acknowledged."""
    acked = (OrderState.ACKED, OrderState.PARTIALLY_FILLED, OrderState.FILLED)
    bad = [
        o.client_order_id
        for o in e.orders
        if not o.client_order_id or (o.state in acked and not o.venue_order_id)
    ]
    return not bad, {"bad": bad[:10]}


def positions_on_allowed_instruments(e: Engine) -> Result:
    """7. No open position on an instrument outside allowed_instruments (opened while allowed
    and not yet closed counts: tightening the control shows up here until it is flat)."""
    bad = [
        p.position_id
        for p in e.positions.open_positions()
        if not e.controls.instrument_allowed(str(p.asset))
    ]
    return not bad, {"bad": bad[:10]}


def no_entries_on_future_windows(e: Engine) -> Result:
    """8. Every entry order was created inside its window's entry period."""
    bad = []
    for o in e.orders:
        if o.purpose is not OrderPurpose.ENTRY:
            continue
        w = e.market.windows[o.window_slug].window
        if not (w.open_ts <= o.created_ts < w.close_ts - ENTRY_CUTOFF_MS):
            bad.append(o.client_order_id)
    return not bad, {"bad": bad[:10]}


def deployed_within_session_loss(e: Engine) -> Result:
    """9. Capital deployed in open positions ≤ max_session_loss."""
    deployed = sum((e.positions.exposure(p) for p in e.positions.open_positions()), start=ZERO)
    limit = e.controls.max_session_loss
    return deployed <= limit, {"deployed": str(deployed), "max_session_loss": str(limit)}


def tick_under_5s(e: Engine) -> Result:
    """10. No tick took longer than 5 s (durations are reported by the runner)."""
    if e.max_tick_ms == 0:
        return True, {"checked": False}
    return e.max_tick_ms <= MAX_TICK_MS, {"max_tick_ms": e.max_tick_ms}


ASSERTIONS: tuple[tuple[str, Callable[[Engine], Result]], ...] = (
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


def run_all(e: Engine, window_slug: str | None = None) -> list[AssertionRecord]:
    """Every assertion's result at e.now."""
    out = []
    for name, check in ASSERTIONS:
        ok, detail = check(e)
        out.append(AssertionRecord(e.now, name, ok, detail, e.mode, e.run_id, window_slug))
    return out
