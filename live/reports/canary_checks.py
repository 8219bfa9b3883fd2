"""The Phase 1 canary verification checklist (spec "Verification Checklist", items 1-10) as pure
checks over stored rows, plus item 11: every runtime assertion held (Phase 1b).

`load_run(conn, ...)` reads the last N window periods a canary traded in one mode (and run);
`check_run(run)` returns one `ItemResult` per (window, item) with the evidence rows that decided
it. No papermill, no pandas: the report notebook, the CLI and the runner's tests all call this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from live.reports import canary_balances, canary_data
from live.reports.canary_data import RunData, WindowData

TOL = Decimal("0.000001")  # USDC and price precision
ITEMS: dict[int, str] = {
    1: "Signal generated: logged with timestamp, instrument, direction, confidence",
    2: "Order placed: payload logged, order id captured",
    3: "Order filled: fill confirmation received, fill price recorded",
    4: "Position opened: DB record with correct entry price, size, direction",
    5: "Position monitored: mark price and P&L updated while open",
    6: "Window closed: settlement direction captured from the oracle",
    7: "Position resolved: record updated with exit price, P&L, resolution",
    8: "Balance updated: post-settlement balance matches expected",
    9: "Cross-check: our resolution matches the venue's resolution",
    10: "Cross-check: our P&L matches the actual balance change",
    11: "Runtime assertions: every assertion held over the window",
}
FINAL_ORDER_STATES = {"FILLED", "PARTIALLY_FILLED", "CANCELLED"}
# Items that need the window's resolution (issue 15): while it is not yet due they are PENDING.
SETTLEMENT_ITEMS = frozenset({6, 7, 8, 9, 10, 11})
RESOLUTION_DUE_S = 300.0  # a window's resolution is overdue this long after its close


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One checklist item for one window: PASS/FAIL, why, and the rows that decided it."""

    item: int
    window_slug: str
    passed: bool
    reason: str
    evidence: tuple[dict[str, Any], ...] = ()
    pending: bool = False  # the window's resolution is not yet due: neither PASS nor FAIL

    @property
    def verdict(self) -> str:
        if self.pending:
            return "PENDING"
        return "PASS" if self.passed else "FAIL"


@dataclass(frozen=True, slots=True)
class CanaryReport:
    windows: tuple[str, ...]
    results: tuple[ItemResult, ...] = field(default=())
    skipped: tuple[tuple[str, str], ...] = ()  # (window, why): not traded, see venue_refused

    @property
    def passed(self) -> bool:
        """True only if at least one window was checked and every item passed (or is PENDING:
        its window's resolution is not yet due)."""
        return bool(self.windows) and all(r.passed or r.pending for r in self.results)

    def failures(self) -> list[ItemResult]:
        return [r for r in self.results if not r.passed and not r.pending]

    def pending(self) -> list[ItemResult]:
        return [r for r in self.results if r.pending]

    def matrix(self) -> dict[str, dict[int, str]]:
        """{window_slug: {item: "PASS" | "FAIL" | "PENDING"}}."""
        out: dict[str, dict[int, str]] = {slug: {} for slug in self.windows}
        for r in self.results:
            out[r.window_slug][r.item] = r.verdict
        return out


def _result(item: int, w: WindowData, problems: list[str], evidence: list[dict]) -> ItemResult:
    reason = "; ".join(problems) if problems else "ok"
    return ItemResult(item, w.slug, not problems, reason, tuple(evidence))


def _close(a: Decimal | None, b: Decimal | None, tol: Decimal = TOL) -> bool:
    return a is not None and b is not None and abs(Decimal(a) - Decimal(b)) <= tol


def _missing(row: dict, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if row.get(c) in (None, "")]


# ---------------------------------------------------------------- items 1-5: entry and holding


def item1_signal(run: RunData, w: WindowData) -> ItemResult:
    problems = [] if w.signals else ["no canary signal for this window"]
    for s in w.signals:
        if gaps := _missing(s, ("ts", "asset", "side", "confidence")):
            problems.append(f"signal {s['signal_id']} lacks {', '.join(gaps)}")
        if s.get("asset") != w.asset:
            problems.append(f"signal {s['signal_id']} is for {s.get('asset')}, not {w.asset}")
    return _result(1, w, problems, w.signals)


def item2_order(run: RunData, w: WindowData) -> ItemResult:
    problems = [] if w.signals else ["no signal, so no order to check"]
    for s in w.signals:
        orders = [o for o in w.entry_orders if o["signal_id"] == s["signal_id"]]
        if len(orders) != 1:
            problems.append(f"signal {s['signal_id']} has {len(orders)} entry orders, not 1")
        for o in orders:
            if gaps := _missing(o, ("client_order_id", "venue_order_id", "payload")):
                problems.append(f"order {o['client_order_id']} lacks {', '.join(gaps)}")
            if o["state"] not in FINAL_ORDER_STATES:
                problems.append(f"order {o['client_order_id']} ended {o['state']}")
    return _result(2, w, problems, w.entry_orders)


def item3_fill(run: RunData, w: WindowData) -> ItemResult:
    problems = [] if w.entry_orders else ["no entry order"]
    for o in w.entry_orders:
        fills = w.fills_of(o["client_order_id"])
        confirmed = [f for f in fills if f["status"] == "CONFIRMED" and f["price"] is not None]
        if not confirmed:
            problems.append(f"order {o['client_order_id']} has no CONFIRMED fill")
        shares = sum((f["shares"] for f in fills if f["status"] != "FAILED"), Decimal(0))
        if shares != o["filled_shares"]:
            problems.append(
                f"order {o['client_order_id']} filled_shares {o['filled_shares']} "
                f"but its fills sum to {shares}"
            )
    return _result(3, w, problems, w.fills)


def item4_position(run: RunData, w: WindowData) -> ItemResult:
    problems, evidence = [], list(w.positions)
    if not w.entry_orders:
        problems.append("no entry order")
    for o in w.entry_orders:
        fills = [f for f in w.fills_of(o["client_order_id"]) if f["status"] != "FAILED"]
        if not fills:
            continue
        pos = w.position_for(o)
        if pos is None:
            ids = ", ".join(f["fill_id"] for f in fills)
            problems.append(f"fill(s) {ids} of order {o['client_order_id']} have no position")
            continue
        problems += _position_matches_fills(pos, o, w)
    return _result(4, w, problems, evidence)


def _position_matches_fills(pos: dict, order: dict, w: WindowData) -> list[str]:
    entry = w.position_fills(pos["position_id"], purpose="ENTRY")
    exits = w.position_fills(pos["position_id"], purpose="EXIT")
    bought = sum((f["shares"] for f in entry), Decimal(0))
    sold = sum((f["shares"] for f in exits), Decimal(0))
    vwap = sum((f["shares"] * f["price"] for f in entry), Decimal(0)) / bought if bought else None
    out, pid = [], pos["position_id"]
    if pos["outcome"] != order["outcome"]:
        out.append(f"position {pid} is {pos['outcome']}, order {order['outcome']}")
    signal_sides = {s["side"] for s in w.signals if s["signal_id"] == order.get("signal_id")}
    if signal_sides and pos["outcome"] not in signal_sides:
        out.append(f"position {pid} is {pos['outcome']}, signal {signal_sides}")
    if pos["shares"] != bought - sold:
        out.append(f"position {pid} holds {pos['shares']}, fills say {bought - sold}")
    if not _close(pos["entry_price"], vwap):
        out.append(f"position {pid} entry_price {pos['entry_price']}, fills' VWAP {vwap}")
    if pos["token_id"] != order["token_id"]:
        out.append(f"position {pid} token {pos['token_id']} is not the order's")
    return out


def item5_monitoring(run: RunData, w: WindowData) -> ItemResult:
    problems = [] if w.positions else ["no position to monitor"]
    for pos in w.positions:
        events = w.events_of(pos["position_id"])
        pid = pos["position_id"]
        if not any(e["to_state"] == "MONITORING" for e in events):
            problems.append(f"position {pid} never reached MONITORING")
        marks = [e for e in events if e["mark_price"] is not None]
        if pos["mark_price"] is None and not marks:
            problems.append(f"position {pid}: no mark price was ever recorded")
        for e in marks:
            if e["to_state"] in ("ENTRY", "MONITORING") and e["pnl_gross"] is not None:
                # A mark is judged on the shares and entry price it saw (recorded with it since
                # issue 17: an entry filled in several fills grows); older rows on the final ones.
                inputs = e.get("detail") or {}
                shares = Decimal(inputs.get("shares", pos["shares"]))
                entry = Decimal(inputs.get("entry_price", pos["entry_price"]))
                want = (e["mark_price"] - entry) * shares
                if not _close(e["pnl_gross"], want):
                    problems.append(f"position {pid} at {e['ts']}: P&L {e['pnl_gross']} ≠ {want}")
    return _result(5, w, problems, [e for p in w.positions for e in w.events_of(p["position_id"])])


# ---------------------------------------------------------------- items 6-11: settlement and money


def item6_settlement(run: RunData, w: WindowData) -> ItemResult:
    s = w.settlement
    if s is None:
        return _result(6, w, ["no settlement recorded"], [])
    problems = [f"settlement lacks {c}" for c in _missing(s, ("strike", "settlement_price"))]
    if s["ours"] not in ("UP", "DOWN"):
        problems.append(f"our resolution is {s['ours']}")
    elif not problems:
        want = "UP" if s["settlement_price"] >= s["strike"] else "DOWN"
        if s["ours"] != want:
            problems.append(f"ours {s['ours']} but {s['settlement_price']} vs {s['strike']}")
    if w.close_ts is not None and s["ts"] < w.close_ts:
        problems.append(f"settled at {s['ts']}, before the close {w.close_ts}")
    return _result(6, w, problems, [s])


def item7_resolution(run: RunData, w: WindowData) -> ItemResult:
    problems = [] if w.positions else ["no position to resolve"]
    for pos in w.positions:
        pid = pos["position_id"]
        if pos["state"] != "CLOSED":
            problems.append(f"position {pid} is {pos['state']}, not CLOSED")
            continue
        gaps = _missing(pos, ("exit_price", "pnl_gross", "pnl_net", "closed_ts"))
        if pos["exit_reason"] in (None, "EXPIRY", "expiry"):
            gaps += _missing(pos, ("resolution",))
        if gaps:
            problems.append(f"position {pid} lacks {', '.join(gaps)}")
            continue
        if not _close(pos["pnl_gross"], pos["proceeds"] - pos["cost"]):
            problems.append(f"position {pid} pnl_gross ≠ proceeds − cost")
        if not _close(pos["pnl_net"], pos["pnl_gross"] - pos["fees"]):
            problems.append(f"position {pid} pnl_net ≠ pnl_gross − fees")
        if pos["resolution"] and not w.position_fills(pid, purpose="EXIT"):
            won = pos["resolution"] == pos["outcome"]
            if pos["exit_price"] != (1 if won else 0):
                problems.append(f"position {pid} exit_price {pos['exit_price']}, won={won}")
    return _result(7, w, problems, w.positions)


def item8_balance(run: RunData, w: WindowData) -> ItemResult:
    problems, evidence = [] if w.positions else ["no position settled"], []
    for pos in w.positions:
        if pos["closed_ts"] is None:
            problems.append(f"position {pos['position_id']} not closed")
            continue
        # The cash arrives with the confirmed redemption on Polymarket (at the close where the
        # venue pays at resolution): the post-redemption balance is the one compared.
        paid_at = run.cash_ts(pos)
        if paid_at is None:
            problems.append(f"position {pos['position_id']} resolved, awaiting redemption")
            continue
        # The first venue report after the cash arrived that is comparable with our ledger,
        # against what the ledger expected at that same instant (canary_balances: reports
        # stamped near another window's cash, or with the ledger moved since, are stepped past).
        venue, expected = canary_balances.settled_balances(run, paid_at)
        evidence += [b for b in (venue, expected) if b is not None]
        if venue is None or expected is None:
            problems.append(f"no venue/expected balance after {paid_at}")
        elif not _close(venue["usd"], expected["usd"], run.tolerance):
            problems.append(f"venue balance {venue['usd']} ≠ expected {expected['usd']}")
    return _result(8, w, problems, evidence)


def item9_cross_resolution(run: RunData, w: WindowData) -> ItemResult:
    s = w.settlement
    if s is None:
        return _result(9, w, ["no settlement recorded"], [])
    problems = []
    if s["venue"] is None or s["confirmed_ts"] is None:
        problems.append("the venue has not confirmed the resolution")
    elif s["ours"] != s["venue"] or s["agreement"] != "agree":
        problems.append(f"ours {s['ours']} vs venue {s['venue']} ({s['agreement']})")
    for pos in w.positions:
        if pos["resolution"] is not None and pos["resolution"] != s["venue"]:
            problems.append(f"position {pos['position_id']} resolved {pos['resolution']}")
    return _result(9, w, problems, [s, *w.positions])


def item10_pnl_vs_balance(run: RunData, w: WindowData) -> ItemResult:
    problems = [] if w.positions else ["no position"]
    for pos in w.positions:
        cash = run.position_cash(pos)
        if pos["pnl_net"] is None or not _close(pos["pnl_net"], cash, run.tolerance):
            problems.append(f"position {pos['position_id']} pnl_net {pos['pnl_net']} ≠ cash {cash}")
    closed = [p for p in w.positions if p["closed_ts"] is not None]
    if not closed:
        return _result(10, w, problems or ["no closed position"], [])
    paid = [run.cash_ts(p) for p in closed]
    if any(ts is None for ts in paid):  # resolved, awaiting redemption: no cash yet
        problems.append("resolved, awaiting redemption: the balance has not moved yet")
        return _result(10, w, problems, [])
    # Cash can move from the moment the entry order reaches the venue; a fill is stamped when
    # it is confirmed (on the sandbox ~0.5 s after the match), so the balance "before" is the
    # last one before the entry order was placed, not merely before its first fill.
    pids = {p["position_id"] for p in closed}
    placed = [o["created_ts"] for o in w.entry_orders if o.get("position_id") in pids]
    start = min([f["ts"] for p in closed for f in run.fills_of_position(p["position_id"])] + placed)
    # Between balances that each describe one instant (canary_balances): the change may then
    # span other windows' cash, checked combined against the ledger change of all of them.
    before = canary_balances.balance_before(run, "venue", start)
    after = canary_balances.balance_at_or_after(run, "venue", max(paid))  # post-redemption
    if before is None or after is None:
        problems.append("no venue balance before the entry and after the settlement")
        return _result(10, w, problems, [b for b in (before, after) if b])
    span = _span(run, before, after)
    if not _close(span["balance_change"], span["ledger_change"], run.tolerance):
        problems.append(
            f"balance changed {span['balance_change']}, our ledger says {span['ledger_change']}"
            + (f" ({span['span']})" if len(span["windows"]) > 1 else "")
        )
    return _result(10, w, problems, [before, after, span])


def _span(run: RunData, before: dict, after: dict) -> dict[str, Any]:
    """Item 10's evidence: the balance and the ledger change between two balance rows, and every
    window whose cash moved in between."""
    start, end = before["ts"], after["ts"]
    windows = canary_balances.windows_between(run, start, end)
    return {
        "span": f"{start} to {end}: {len(windows)} windows' cash, checked combined",
        "windows": windows,
        "balance_change": after["usd"] - before["usd"],
        "ledger_change": run.cash_between(start, end),
    }


def item11_assertions(run: RunData, w: WindowData) -> ItemResult:
    rows = w.assertions
    failed = [a for a in rows if not a["ok"]]
    problems = [f"{a['name']} failed at {a['ts']}" for a in failed]
    if not rows:
        problems.append("no assertion results recorded during the window")
    return _result(11, w, problems, failed or rows[:10])


CHECKS: dict[int, Callable[[RunData, WindowData], ItemResult]] = {
    1: item1_signal,
    2: item2_order,
    3: item3_fill,
    4: item4_position,
    5: item5_monitoring,
    6: item6_settlement,
    7: item7_resolution,
    8: item8_balance,
    9: item9_cross_resolution,
    10: item10_pnl_vs_balance,
    11: item11_assertions,
}


def venue_refused(w: WindowData) -> str | None:
    """Why the canary did not trade `w` although it signalled: the venue refused every entry (a
    FAK killed for want of a match at its limit is a legitimate outcome, not a record fault).
    Only when the records prove it: each signal has exactly one entry order, each REJECTED (or
    CANCELLED with nothing filled, see `_refused`) with the venue's reason and its payload, and
    there is no fill and no position. Such a window is listed as skipped, not checked; anything
    less complete is checked (and fails)."""
    if not w.signals or w.fills or w.positions:
        return None
    per_signal = [
        [o for o in w.entry_orders if o["signal_id"] == s["signal_id"]] for s in w.signals
    ]
    if any(len(orders) != 1 for orders in per_signal) or len(w.entry_orders) != len(w.signals):
        return None
    if not all(_refused(o) and o["reason"] and o["payload"] for o in w.entry_orders):
        return None
    return "; ".join(
        f"entry {o['client_order_id']} {o['state'].lower()} by the venue: {o['reason']}"
        for o in w.entry_orders
    )


def gate_denied(w: WindowData) -> str | None:
    """Why the canary did not trade `w` although it signalled: the risk gate denied every
    signal (a recorded decision: the kill switch paused, a limit was reached), so no order was
    due. Only when nothing else happened there (no entry order, no fill, no position); a denied
    signal beside an order is checked (and item 2 fails)."""
    if not w.signals or w.entry_orders or w.fills or w.positions:
        return None
    if not all(s.get("denied_code") for s in w.signals):
        return None
    return "; ".join(f"signal {s['signal_id']} denied: {s['denied_code']}" for s in w.signals)


def _refused(order: dict) -> bool:
    """REJECTED (a killed FAK), or CANCELLED with nothing filled: a FAK the venue answered
    "delayed" that then found nothing to match (docs/venue.md O1)."""
    if order["state"] == "REJECTED":
        return True
    return order["state"] == "CANCELLED" and not order["filled_shares"]


def check_run(
    run: RunData,
    now: datetime | None = None,
    stops: Sequence[dict[str, Any]] = (),
    resolution_due_s: float = RESOLUTION_DUE_S,
) -> CanaryReport:
    """Every item for every window of `run` the canary traded (see `venue_refused` and
    `gate_denied`). With `now`,
    a window not yet settled whose resolution is not yet due has its settlement items PENDING;
    once overdue they fail, saying so when a runner stopped with it open (`stops`: rows of
    `runner_stops`)."""
    skipped = tuple(
        (w.slug, why) for w in run.windows if (why := venue_refused(w) or gate_denied(w))
    )
    checked = [w for w in run.windows if w.slug not in dict(skipped)]
    results = tuple(
        _unsettled_verdict(CHECKS[item](run, w), w, now, stops, resolution_due_s)
        for w in checked
        for item in sorted(CHECKS)
    )
    return CanaryReport(tuple(w.slug for w in checked), results, skipped)


def _unsettled_verdict(
    r: ItemResult,
    w: WindowData,
    now: datetime | None,
    stops: Sequence[dict[str, Any]],
    due_s: float,
) -> ItemResult:
    unsettled = w.settlement is None or any(p["state"] != "CLOSED" for p in w.positions)
    if r.passed or r.item not in SETTLEMENT_ITEMS or not unsettled or w.close_ts is None:
        return r
    due = w.close_ts + timedelta(seconds=due_s)
    if now is not None and now < due:
        reason = f"resolution not yet due (by {due.isoformat()}): {r.reason}"
        return replace(r, reason=reason, pending=True)
    held = {p["position_id"] for p in w.positions if p["state"] != "CLOSED"}
    for stop in stops:
        left = list(stop.get("open_positions") or [])
        ids = {p.get("position_id") for p in left}
        slugs = {p.get("window_slug") for p in left}
        if stop["ts"] <= due and (ids & held or w.slug in slugs):
            why = (
                f"{r.reason} — the runner was stopped at {stop['ts'].isoformat()} "
                f"({stop['reason']}) with it open, and no run settled it since"
            )
            return replace(r, reason=why)
    return r


def load_stops(conn: Any) -> list[dict[str, Any]]:
    """The `runner_stops` rows (what each stop left open and why), oldest first."""
    cur = conn.execute("SELECT ts, reason, mode, open_positions FROM runner_stops ORDER BY ts")
    return [dict(zip(("ts", "reason", "mode", "open_positions"), row, strict=True)) for row in cur]


def verify(
    conn: Any,
    *,
    windows: int = 2,
    mode: str | None = None,
    run_id: str | None = None,
    strategies: Sequence[str] = canary_data.CANARY_NAMES,
    now: datetime | None = None,
    settle_grace_s: float = 0,
) -> CanaryReport:
    """Load the last `windows` window periods the canary traded and check them."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=settle_grace_s)
    run = canary_data.load_run(
        conn, periods=windows, mode=mode, run_id=run_id, strategies=strategies, closed_by=cutoff
    )
    return check_run(run, now=now, stops=load_stops(conn))
