"""The rows the canary checklist (live.reports.canary_checks) judges, read once per report: the
last N window periods a canary strategy signalled in, one mode (and optionally one run), with
their signals, orders, fills, positions, position events, settlements, balances and assertions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

CANARY_NAMES = ("always-trade-canary", "canary")
MARGIN = timedelta(hours=6)  # how far around the windows balances and fills are read
RUN = "mode = %(mode)s AND (%(run_id)s::text IS NULL OR run_id = %(run_id)s)"
MODE_OF_LATEST = """SELECT mode FROM signals WHERE strategy = ANY(%(strategies)s)
    AND (%(run_id)s::text IS NULL OR run_id = %(run_id)s) ORDER BY ts DESC LIMIT 1"""
WINDOWS = f"""
SELECT DISTINCT s.window_slug AS slug, s.asset, w.open_ts, w.close_ts, w.strike, w.final_price,
       w.winner, w.status
FROM signals s LEFT JOIN windows w ON w.slug = s.window_slug
    AND w.venue = coalesce((SELECT r.venue FROM backtest_runs r WHERE r.run_id = s.run_id), w.venue)
WHERE s.strategy = ANY(%(strategies)s) AND s.{RUN}"""
# Each signal with the code of its denial, if the risk gate denied it (a recorded decision).
SIGNALS = f"""SELECT s.*, d.code AS denied_code FROM signals s
    LEFT JOIN LATERAL (SELECT code FROM decisions x WHERE x.signal_id = s.signal_id
                       AND x.verdict = 'DENIED' ORDER BY x.ts LIMIT 1) d ON true
    WHERE s.window_slug = ANY(%(slugs)s) AND s.strategy = ANY(%(strategies)s) AND s.{RUN}
    ORDER BY s.ts"""
ORDERS = f"""SELECT * FROM orders WHERE window_slug = ANY(%(slugs)s)
    AND strategy = ANY(%(strategies)s) AND {RUN} ORDER BY created_ts"""
POSITIONS = f"""SELECT * FROM positions WHERE {RUN}
    AND (window_slug = ANY(%(slugs)s) OR closed_ts BETWEEN %(start)s AND %(end)s)"""
EVENTS = """SELECT * FROM position_events WHERE position_id = ANY(%(pids)s) ORDER BY ts, id"""
FILLS = """SELECT f.*, o.side, o.purpose, o.position_id, o.window_slug, o.strategy, o.outcome,
    coalesce(o.sent_ts, o.created_ts) AS order_sent_ts
    FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
    WHERE o.mode = %(mode)s AND (%(run_id)s::text IS NULL OR o.run_id = %(run_id)s)
      AND (f.ts BETWEEN %(start)s AND %(end)s OR o.window_slug = ANY(%(slugs)s))
    ORDER BY f.ts, f.fill_id"""
SETTLEMENTS = f"""SELECT * FROM settlements WHERE window_slug = ANY(%(slugs)s) AND {RUN}"""
BALANCES = f"""SELECT * FROM balances WHERE {RUN} AND ts BETWEEN %(start)s AND %(end)s
    ORDER BY ts, id"""
REDEMPTIONS = """SELECT * FROM redemptions WHERE position_id = ANY(%(pids)s)"""
ASSERTIONS = """SELECT * FROM assertion_results
    WHERE (mode IS NULL OR mode = %(mode)s) AND (%(run_id)s::text IS NULL OR run_id = %(run_id)s)
      AND ts BETWEEN %(start)s AND %(end)s ORDER BY ts, id"""


@dataclass
class WindowData:
    """One canary window (one instrument, one period) and its records."""

    slug: str
    asset: str
    open_ts: datetime | None
    close_ts: datetime | None
    info: dict[str, Any]
    signals: list[dict] = field(default_factory=list)
    entry_orders: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    positions: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    settlement: dict | None = None
    assertions: list[dict] = field(default_factory=list)

    def fills_of(self, client_order_id: str) -> list[dict]:
        return [f for f in self.fills if f["client_order_id"] == client_order_id]

    def position(self, position_id: str | None) -> dict | None:
        return next((p for p in self.positions if p["position_id"] == position_id), None)

    def position_for(self, order: dict) -> dict | None:
        """The order's position: by id, else the only one of its strategy and outcome."""
        if order.get("position_id"):
            return self.position(order["position_id"])
        same = [
            p
            for p in self.positions
            if (p["strategy"], p["outcome"]) == (order["strategy"], order["outcome"])
        ]
        return same[0] if len(same) == 1 else None

    def position_fills(self, position_id: str, *, purpose: str) -> list[dict]:
        return [
            f
            for f in self.fills
            if f["position_id"] == position_id
            and f["purpose"] == purpose
            and f["status"] != "FAILED"
        ]

    def events_of(self, position_id: str) -> list[dict]:
        return [e for e in self.events if e["position_id"] == position_id]


@dataclass
class RunData:
    """The windows under verification and the session-wide rows money checks need."""

    mode: str | None
    run_id: str | None
    windows: list[WindowData]
    fills: list[dict] = field(default_factory=list)  # every fill of the mode/run in range
    positions: list[dict] = field(default_factory=list)  # every position settling in range
    balances: list[dict] = field(default_factory=list)
    # position id -> its `redemptions` row (LIVE on Polymarket: the cash of a resolved position
    # arrives when its redemption is confirmed, not at the resolution)
    redemptions: dict[str, dict] = field(default_factory=dict)
    tolerance: Decimal = Decimal("0.000001")

    def cash_ts(self, position: dict) -> datetime | None:
        """When the position's settlement cash reached the balance: its confirmed redemption,
        or its close where the venue pays at resolution; None while it awaits redemption."""
        row = self.redemptions.get(position["position_id"])
        if row is None:
            return position["closed_ts"]
        return row["redeemed_ts"] if row["status"] == "REDEEMED" else None

    def redemption_status(self, position: dict) -> str:
        """REDEEMED / PENDING (resolved, awaiting redemption), or '' without a redemption row."""
        row = self.redemptions.get(position["position_id"])
        return "" if row is None else row["status"]

    def _is(self, row: dict, source: str) -> bool:
        """In PAPER / DRY_RUN the venue is the engine's simulated executor: its ledger rows
        (source 'engine') are the venue balance."""
        simulated = self.mode in ("PAPER", "DRY_RUN") and source == "venue"
        return row["source"] == source or (simulated and row["source"] == "engine")

    def balances_of(self, source: str) -> list[dict]:
        """The rows of `source` in stamp order, only the last of several stamped at one instant
        (two windows settling together write one row per settlement: the earlier ones describe
        a state the venue, which settles both at once, never had)."""
        rows = [b for b in self.balances if self._is(b, source)]
        return [
            b
            for b, nxt in zip(rows, [*rows[1:], None], strict=True)
            if not nxt or nxt["ts"] != b["ts"]
        ]

    def balance_at_or_before(self, source: str, ts: datetime) -> dict | None:
        """The latest balance of `source` stamped at or before `ts` (the last of a tie)."""
        rows = [b for b in self.balances_of(source) if b["ts"] <= ts]
        return rows[-1] if rows else None

    def fills_of_position(self, position_id: str) -> list[dict]:
        return [
            f for f in self.fills if f["position_id"] == position_id and f["status"] != "FAILED"
        ]

    def payout(self, position: dict) -> Decimal:
        """What settlement paid the position: its proceeds less what exit fills brought in."""
        if position["resolution"] is None or position["state"] != "CLOSED":
            return Decimal(0)
        sold = sum(
            (
                f["price"] * f["shares"]
                for f in self.fills_of_position(position["position_id"])
                if f["side"] == "SELL"
            ),
            Decimal(0),
        )
        return position["proceeds"] - sold

    def position_cash(self, position: dict) -> Decimal:
        """Net cash the position moved: fills (with fees) and the settlement payout."""
        fills = self.fills_of_position(position["position_id"])
        return sum((fill_cash(f) for f in fills), Decimal(0)) + self.payout(position)

    def cash_events(self) -> list[CashEvent]:
        """Every movement of our cash in range, in time order: each fill (with its fee) at its
        stamp and each settled position's payout (zero for a loser) when it reached the
        balance: its confirmed redemption (LIVE), or its closed_ts (paid at resolution). A fill
        also carries when its order was sent: the venue moved the cash at the match, somewhere
        between the send and the fill's stamp (when the runner heard of it)."""
        events = [
            CashEvent(
                f["ts"], "fill", f["window_slug"], fill_cash(f), f.get("order_sent_ts") or f["ts"]
            )
            for f in self.fills
            if f["status"] != "FAILED"
        ]
        events += [
            CashEvent(ts, "settlement", p["window_slug"], self.payout(p))
            for p in self.positions
            if p["closed_ts"] is not None and (ts := self.cash_ts(p)) is not None
        ]
        return sorted(events, key=lambda e: e.ts)

    def cash_between(self, start: datetime, end: datetime) -> Decimal:
        """Our ledger's balance change over (start, end]: every fill and payout in it."""
        return sum((e.usd for e in self.cash_events() if start < e.ts <= end), Decimal(0))


@dataclass(frozen=True, slots=True)
class CashEvent:
    """One movement of our cash: a fill or a settlement payout, in USD (negative: paid)."""

    ts: datetime
    kind: str  # "fill" | "settlement"
    window_slug: str
    usd: Decimal
    since: datetime | None = None  # a fill: its order's send; the match lies in [since, ts]


def fill_cash(fill: dict) -> Decimal:
    value = fill["price"] * fill["shares"]
    return value - fill["fee"] if fill["side"] == "SELL" else -(value + fill["fee"])


def _close_from_slug(slug: str) -> tuple[datetime, datetime] | None:
    """Window bounds from `{asset}-updown-{5m|15m}-{epoch}` when `windows` lacks the row."""
    try:
        _, _, length, epoch = slug.rsplit("-", 3)
        start = datetime.fromtimestamp(int(epoch), UTC)
        return start, start + timedelta(minutes=int(length.rstrip("m")))
    except ValueError:
        return None


def _select(conn: psycopg.Connection, sql: str, args: dict) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, args).fetchall()


def _pick_windows(rows: list[dict], periods: int, closed_by: datetime) -> list[WindowData]:
    out = []
    for row in rows:
        if row["close_ts"] is None and (bounds := _close_from_slug(row["slug"])):
            row["open_ts"], row["close_ts"] = bounds
        if row["close_ts"] is not None and row["close_ts"] <= closed_by:
            out.append(WindowData(row["slug"], row["asset"], row["open_ts"], row["close_ts"], row))
    last = sorted({w.close_ts for w in out}, reverse=True)[:periods]
    return sorted((w for w in out if w.close_ts in last), key=lambda w: (w.close_ts, w.slug))


def load_run(
    conn: psycopg.Connection,
    *,
    periods: int,
    mode: str | None,
    run_id: str | None,
    strategies: Sequence[str] = CANARY_NAMES,
    closed_by: datetime,
) -> RunData:
    """The last `periods` window periods (close times) the canary signalled in, closed by
    `closed_by`, in `mode` (default: the mode of the latest canary signal)."""
    args: dict[str, Any] = {"strategies": list(strategies), "run_id": run_id, "mode": mode}
    if mode is None:
        row = conn.execute(MODE_OF_LATEST, args).fetchone()
        args["mode"] = row[0] if row else "PAPER"
    windows = _pick_windows(_select(conn, WINDOWS, args), periods, closed_by)
    run = RunData(args["mode"], run_id, windows)
    if not windows:
        return run
    args |= {
        "slugs": [w.slug for w in windows],
        "start": min(w.open_ts or w.close_ts for w in windows) - MARGIN,
        "end": max(w.close_ts for w in windows) + MARGIN,
    }
    run.fills = _select(conn, FILLS, args)
    run.positions = _select(conn, POSITIONS, args)
    run.balances = _select(conn, BALANCES, args)
    _attach(conn, run, args)
    return run


def _attach(conn: psycopg.Connection, run: RunData, args: dict) -> None:
    by_slug = {w.slug: w for w in run.windows}
    for s in _select(conn, SIGNALS, args):
        by_slug[s["window_slug"]].signals.append(s)
    for o in _select(conn, ORDERS, args):
        if o["purpose"] == "ENTRY":
            by_slug[o["window_slug"]].entry_orders.append(o)
    names = set(args["strategies"])
    for p in run.positions:
        if p["window_slug"] in by_slug and p["strategy"] in names:
            by_slug[p["window_slug"]].positions.append(p)
    for f in run.fills:
        if f["window_slug"] in by_slug and f["strategy"] in names:
            by_slug[f["window_slug"]].fills.append(f)
    pids = [p["position_id"] for w in run.windows for p in w.positions]
    events = _select(conn, EVENTS, args | {"pids": pids})
    every = [p["position_id"] for p in run.positions]
    run.redemptions = {r["position_id"]: r for r in _select(conn, REDEMPTIONS, {"pids": every})}
    for w in run.windows:
        w.events = [e for e in events if w.position(e["position_id"]) is not None]
    for s in _select(conn, SETTLEMENTS, args):
        by_slug[s["window_slug"]].settlement = s
    assertions = _select(conn, ASSERTIONS, args)
    for w in run.windows:
        end = (w.settlement or {}).get("confirmed_ts") or w.close_ts
        w.assertions = [
            a
            for a in assertions
            if a["window_slug"] == w.slug
            or (a["window_slug"] is None and w.open_ts <= a["ts"] <= end)
        ]
