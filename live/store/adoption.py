"""What the database says an earlier run owned (issue 15), as the kernel's `Adoption`.

`load_adoption(conn, mode, now_ms)` reads, for one mode: the open positions (their row, the shares
bought and sold from their fills, the trailing peak from their marks, the last trigger and
intended prices from their events), the working and UNKNOWN orders (with the exit parameters their
signal declared), the windows those are on (with their status), the entry orders per window still
open or not yet resolved, the signals decided on those windows, and the session's realised net P&L
(positions closed since 00:00 UTC); and the cash side (issue 13): the fills still MATCHED/MINED with
the final orders they belong to, the receivables (PENDING `redemptions` rows) and the redemptions
confirmed lately (the venue's lagging index may still list their rows as redeemable); and the
closed positions those working and settling orders still refer to. The runner
cross-checks it with the venue before adopting it
(live/runner/adoption.py); `record_adoption` and `record_stop` keep what was adopted and what a
stop left open (migration 002).
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from live.kernel.adoption import (
    AdoptedOrder,
    AdoptedPosition,
    AdoptedWindow,
    Adoption,
    session_start,
)
from live.kernel.domain import (
    TERMINAL_ORDER_STATES,
    ZERO,
    Asset,
    Fill,
    Mode,
    Order,
    OrderPurpose,
    OrderSide,
    OrderState,
    OrderType,
    Outcome,
    Position,
    PositionState,
    RiskParams,
    SettlementRule,
    Window,
    WindowStatus,
)
from live.kernel.receivables import PENDING, REDEEMED
from live.kernel.records import RedemptionRecord

WORKING = ("NEW", "SUBMITTED", "ACKED", "PARTIALLY_FILLED", "UNKNOWN")
SETTLING = ("MATCHED", "MINED", "RETRYING")  # a fill's trade not yet CONFIRMED nor FAILED
REDEEMED_LATELY_MS = 600_000  # REDEEMED rows this recent are adopted (the index's lag)
_ENUMS: dict[str, type] = {
    "mode": Mode,
    "asset": Asset,
    "outcome": Outcome,
    "resolution": Outcome,
    "side": OrderSide,
    "purpose": OrderPurpose,
    "order_type": OrderType,
}


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _record(cls: type, row: dict[str, Any], state: type) -> Any:
    kw: dict[str, Any] = {}
    for f in fields(cls):
        value = row[f.name]
        if f.name == "ts" or f.name.endswith("_ts"):
            value = _ms(value)
        elif f.name == "state":
            value = state(value)
        elif f.name in _ENUMS and value is not None:
            value = _ENUMS[f.name](value)
        kw[f.name] = value
    return cls(**kw)


def _window(row: dict[str, Any]) -> AdoptedWindow:
    window = Window(
        slug=row["slug"],
        asset=Asset(row["asset"]),
        length_s=row["length_s"],
        open_ts=_ms(row["open_ts"]) or 0,
        close_ts=_ms(row["close_ts"]) or 0,
        condition_id=row["condition_id"] or "",
        token_up=row["token_up"] or "",
        token_down=row["token_down"] or "",
        tick_size=row["tick_size"] if row["tick_size"] is not None else Decimal("0.01"),
        min_size=row["min_size"] if row["min_size"] is not None else Decimal("5"),
        fee_rate=row["fee_rate"] if row["fee_rate"] is not None else ZERO,
        settlement_rule=SettlementRule(row["settlement_rule"]),
        strike=row["strike"],
    )
    winner = None if row["winner"] is None else Outcome(row["winner"])
    return AdoptedWindow(window, WindowStatus(row["status"]), winner)


def load_adoption(
    conn: psycopg.Connection, mode: str, now_ms: int
) -> tuple[Adoption, list[dict[str, Any]]]:
    """The Adoption the database holds for `mode` at `now_ms` (venue time), and the rows it
    cannot adopt (a row the engine cannot read, or on a window the database does not know):
    those stay in the database, where the reconciliation with the venue judges them."""
    start = session_start(now_ms)
    excluded: list[dict[str, Any]] = []
    with conn.cursor(row_factory=dict_row) as cur:
        positions = _rows(
            cur,
            Position,
            PositionState,
            "SELECT * FROM positions WHERE mode = %s AND state <> 'CLOSED' "
            "ORDER BY opened_ts, position_id",
            (mode,),
            excluded,
        )
        orders = _rows(
            cur,
            Order,
            OrderState,
            "SELECT * FROM orders WHERE mode = %s AND state = ANY(%s) "
            "ORDER BY created_ts, client_order_id",
            (mode, list(WORKING)),
            excluded,
        )
        # entries per window: every window closed less than a day ago (or still to close)
        since = _dt(now_ms - 86_400_000)
        entries = {
            row["window_slug"]: row["n"]
            for row in cur.execute(
                """SELECT o.window_slug, count(*) AS n FROM orders o
                   LEFT JOIN backtest_runs r ON r.run_id = o.run_id
                   LEFT JOIN windows w ON w.slug = o.window_slug
                        AND w.venue = coalesce(r.venue, w.venue)
                   WHERE o.mode = %s AND o.purpose = 'ENTRY'
                     AND (w.slug IS NULL OR w.close_ts > %s)
                   GROUP BY o.window_slug""",
                (mode, since),
            )
        }
        # the windows of what is open, and of the entries per window: a strategy is not asked
        # again about a window an earlier run already traded (live.kernel.adoption._schedule)
        held = {p.window_slug for p in positions} | {o.window_slug for o in orders}
        slugs = sorted(held | set(entries))
        windows = []
        for row in cur.execute("SELECT * FROM windows WHERE slug = ANY(%s)", (slugs,)).fetchall():
            try:
                windows.append(_window(row))
            except (ValueError, TypeError) as exc:
                excluded.append({"window": row["slug"], "why": f"unreadable: {exc}"})
        # A window resolved while a position on it is still open: the kill came between the
        # resolution and its settlement. Adopted as closed, so the venue's resolution settles it.
        open_on = {p.window_slug for p in positions}
        windows = [
            replace(w, status=WindowStatus.CLOSED, winner=None)
            if w.window.slug in open_on and w.status is WindowStatus.RESOLVED
            else w
            for w in windows
        ]
        known = {w.window.slug for w in windows}
        for p in [p for p in positions if p.window_slug not in known]:
            positions.remove(p)
            excluded.append({"position": p.position_id, "why": f"window {p.window_slug} unknown"})
        for o in [o for o in orders if o.window_slug not in known]:
            orders.remove(o)
            excluded.append({"order": o.client_order_id, "why": f"window {o.window_slug} unknown"})
        signal_ids = frozenset(
            row["signal_id"]
            for row in cur.execute(
                "SELECT signal_id FROM signals WHERE mode = %s AND window_slug = ANY(%s)",
                (mode, sorted(entries)),
            )
        )
        realised = cur.execute(
            "SELECT coalesce(sum(pnl_net), 0) AS s FROM positions WHERE mode = %s "
            "AND state = 'CLOSED' AND closed_ts >= %s",
            (mode, _dt(start)),
        ).fetchone()["s"]
        adopted_positions = tuple(_track(cur, p) for p in positions)
        adopted_orders = tuple(_working(cur, o) for o in orders)
        order_ids = [o.client_order_id for o in orders]
        position_ids = [p.position_id for p in positions]
        fill_ids = frozenset(
            row["fill_id"]
            for row in cur.execute(
                """SELECT f.fill_id FROM fills f JOIN orders o USING (client_order_id)
                   WHERE o.client_order_id = ANY(%s) OR o.position_id = ANY(%s)""",
                (order_ids, position_ids),
            )
        )
        unsettled, settling_orders, redemptions = _cash_side(cur, mode, now_ms, orders, excluded)
        # closed positions a working or settling order still refers to (its late fill meets them)
        referenced = sorted({o.position_id for o in [*orders, *settling_orders] if o.position_id})
        closed = _rows(
            cur,
            Position,
            PositionState,
            "SELECT * FROM positions WHERE mode = %s AND state = 'CLOSED' "
            "AND position_id = ANY(%s) ORDER BY opened_ts, position_id",
            (mode, referenced),
            excluded,
        )
        closed_positions = tuple(_track(cur, p) for p in closed)
    adoption = Adoption(
        now=now_ms,
        session_start=start,
        windows=tuple(windows),
        positions=adopted_positions,
        orders=adopted_orders,
        entries_by_window=entries,
        realised_net=Decimal(realised),
        signal_ids=signal_ids,
        fill_ids=fill_ids | {f.fill_id for f in unsettled},
        unsettled=unsettled,
        settling_orders=settling_orders,
        redemptions=redemptions,
        closed_positions=closed_positions,
    )
    return adoption, excluded


def _cash_side(
    cur: psycopg.Cursor, mode: str, now_ms: int, working: list[Order], excluded: list
) -> tuple[tuple[Fill, ...], tuple[Order, ...], tuple[RedemptionRecord, ...]]:
    """The fills still settling (and their orders that are final: a working one is adopted as
    such), the PENDING redemption rows and the REDEEMED ones of the last few minutes."""
    fills = _rows(
        cur,
        Fill,
        str,
        "SELECT f.* FROM fills f JOIN orders o USING (client_order_id) "
        "WHERE o.mode = %s AND f.status = ANY(%s) ORDER BY f.ts, f.fill_id",
        (mode, list(SETTLING)),
        excluded,
    )
    adopted = {o.client_order_id for o in working}
    wanted = sorted({f.client_order_id for f in fills} - adopted)
    final = _rows(
        cur,
        Order,
        OrderState,
        "SELECT * FROM orders WHERE client_order_id = ANY(%s) ORDER BY created_ts, client_order_id",
        (wanted,),
        excluded,
    )
    final = [o for o in final if o.state in TERMINAL_ORDER_STATES]
    known = adopted | {o.client_order_id for o in final}
    for f in [f for f in fills if f.client_order_id not in known]:
        fills.remove(f)
        excluded.append({"fill": f.fill_id, "why": f"order {f.client_order_id} not adoptable"})
    redemptions = _rows(
        cur,
        RedemptionRecord,
        str,
        "SELECT * FROM redemptions WHERE mode = %s AND (status = %s "
        "OR (status = %s AND redeemed_ts > %s)) ORDER BY resolved_ts, position_id",
        (mode, PENDING, REDEEMED, _dt(now_ms - REDEEMED_LATELY_MS)),
        excluded,
    )
    return tuple(fills), tuple(final), tuple(redemptions)


def _rows(cur, cls: type, state: type, sql: str, args: tuple, excluded: list) -> list[Any]:
    out = []
    for row in cur.execute(sql, args).fetchall():
        try:
            out.append(_record(cls, row, state))
        except (ValueError, TypeError, KeyError) as exc:
            key = row.get("fill_id") or row.get("position_id") or row.get("client_order_id")
            excluded.append({cls.__name__.lower(): key, "why": f"unreadable: {exc}"})
    return out


def _track(cur: psycopg.Cursor, pos: Position) -> AdoptedPosition:
    sums = cur.execute(
        """SELECT coalesce(sum(f.shares) FILTER (WHERE o.purpose = 'ENTRY'), 0) AS bought,
                  coalesce(sum(f.shares) FILTER (WHERE o.purpose = 'EXIT'), 0) AS sold,
                  coalesce(sum(f.shares * f.price) FILTER (WHERE o.purpose = 'EXIT'), 0) AS value
           FROM fills f JOIN orders o USING (client_order_id)
           WHERE o.position_id = %s AND f.status <> 'FAILED'""",
        (pos.position_id,),
    ).fetchone()
    marks = cur.execute(
        """SELECT max(mark_price) FILTER (WHERE reason = 'mark') AS peak,
                  (array_agg(trigger_price ORDER BY ts DESC, id DESC)
                     FILTER (WHERE trigger_price IS NOT NULL))[1] AS trigger_price,
                  (array_agg(intended_price ORDER BY ts DESC, id DESC)
                     FILTER (WHERE intended_price IS NOT NULL))[1] AS intended_price,
                  (array_agg(detail ORDER BY ts DESC, id DESC)
                     FILTER (WHERE audit IS NOT NULL))[1] AS exit_inputs
           FROM position_events WHERE position_id = %s""",
        (pos.position_id,),
    ).fetchone()
    entry = pos.entry_price or ZERO
    peak = max(entry, marks["peak"] or ZERO) if pos.state is not PositionState.ENTRY else ZERO
    return AdoptedPosition(
        position=pos,
        bought=sums["bought"],
        sold=sums["sold"],
        sell_value=sums["value"],
        peak_bid=peak,
        trigger_price=marks["trigger_price"],
        intended_price=marks["intended_price"],
        exit_inputs=_exit_inputs(marks["exit_inputs"]),
    )


def _exit_inputs(detail: dict | None) -> dict:
    """The exit's audit inputs from its latest event's detail (without the event's extras)."""
    extras = ("client_order_id", "fill_price", "payout")
    return {k: v for k, v in (detail or {}).items() if k not in extras}


def _working(cur: psycopg.Cursor, order: Order) -> AdoptedOrder:
    risk = None
    if order.purpose is OrderPurpose.ENTRY and order.signal_id:
        row = cur.execute(
            "SELECT stop_loss, take_profit, trailing_stop FROM signals WHERE signal_id = %s",
            (order.signal_id,),
        ).fetchone()
        if row is not None:
            risk = RiskParams(row["stop_loss"], row["take_profit"], row["trailing_stop"])
    return AdoptedOrder(order, None, risk)


def record_adoption(
    conn: psycopg.Connection, instance_id: str, run_id: str, summary: dict, excluded: list
) -> None:
    """One `adoptions` row: what this run adopted and what it left to the reconciliation."""
    conn.execute(
        """INSERT INTO adoptions (instance_id, run_id, adopted, excluded)
           VALUES (%s, %s, %s, %s)""",
        (instance_id, run_id, json.dumps(summary, default=str), json.dumps(excluded, default=str)),
    )


def record_stop(
    conn: psycopg.Connection,
    instance_id: str,
    run_id: str,
    mode: str,
    reason: str,
    open_positions: list[dict],
    working_orders: list[dict],
) -> None:
    """One `runner_stops` row: why a runner stopped and what it left open for the next start."""
    conn.execute(
        """INSERT INTO runner_stops (instance_id, run_id, mode, reason, open_positions,
               working_orders) VALUES (%s, %s, %s, %s, %s, %s)""",
        (
            instance_id,
            run_id,
            mode,
            reason,
            json.dumps(open_positions, default=str),
            json.dumps(working_orders, default=str),
        ),
    )
