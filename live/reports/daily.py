"""The daily summary's figures (issue 9, item 3): one set of queries used by the papermill report
(notebooks/daily_summary.py) and by the `daily_summary` alert, so the two always agree.

A day is a UTC calendar day [00:00, 24:00); for today it ends at `now`. BACKTEST rows are left
out (replays carry historical timestamps). Definitions:
- trades: positions opened in the day; P&L: positions CLOSED in the day (gross = proceeds − cost,
  net = gross − fees, as stored by the engine); orders by created_ts; fills by ts, FAILED excluded.
- assertion pass rate: passed / all `assertion_results` rows in the day.
- uptime: the union of every runner instance's [started_at, last_seen] clipped to the day, over
  the day's elapsed length. `instances` keeps one row per instance id (a restart under the same id
  overwrites started_at), so runners should use a fresh instance id per process start.
- feed gaps: gaps overlapping the day, their seconds clipped to it (an open gap runs to the end).
- settlement agreement: agree / (agree + disagree) over settlements recorded in the day.
- cash (modes that settle by redemption): our ledger's and the venue's last balance before the
  day's end, the receivables then (resolved, not yet redeemed) and the day's redemptions.
`DailySummary` holds exact money; the lines and `shown_strategies` round it by the one rule of
`live.reports.money` (fees and net to the cent, gross = net + fees).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg

from live.reports import money

RUNNER_MODES = ("LIVE", "PAPER", "DRY_RUN")

STRATEGIES = """
WITH opened AS (
    SELECT mode, strategy, count(*) AS trades FROM positions
    WHERE opened_ts >= %(start)s AND opened_ts < %(end)s AND mode = ANY(%(modes)s)
    GROUP BY mode, strategy),
closed AS (
    SELECT mode, strategy, count(*) AS closed, count(*) FILTER (WHERE pnl_net > 0) AS wins,
           sum(pnl_gross) AS pnl_gross, sum(pnl_net) AS pnl_net, sum(fees) AS fees
    FROM positions
    WHERE state = 'CLOSED' AND closed_ts >= %(start)s AND closed_ts < %(end)s
      AND mode = ANY(%(modes)s)
    GROUP BY mode, strategy),
placed AS (
    SELECT mode, strategy, count(*) AS orders FROM orders
    WHERE created_ts >= %(start)s AND created_ts < %(end)s AND mode = ANY(%(modes)s)
    GROUP BY mode, strategy),
filled AS (
    SELECT o.mode, o.strategy, count(*) AS fills FROM fills f
    JOIN orders o ON o.client_order_id = f.client_order_id
    WHERE f.ts >= %(start)s AND f.ts < %(end)s AND f.status <> 'FAILED'
      AND o.mode = ANY(%(modes)s)
    GROUP BY o.mode, o.strategy)
SELECT mode, strategy, coalesce(trades, 0), coalesce(orders, 0), coalesce(fills, 0),
       coalesce(closed, 0), coalesce(wins, 0), coalesce(pnl_gross, 0), coalesce(pnl_net, 0),
       coalesce(fees, 0)
FROM opened FULL JOIN closed USING (mode, strategy) FULL JOIN placed USING (mode, strategy)
     FULL JOIN filled USING (mode, strategy)
ORDER BY mode, strategy"""

ASSERTIONS = """
SELECT name, count(*), count(*) FILTER (WHERE ok) FROM assertion_results
WHERE ts >= %(start)s AND ts < %(end)s AND (mode IS NULL OR mode = ANY(%(modes)s))
GROUP BY name ORDER BY name"""

BREAKERS = """
SELECT id, ts, tripped, reason, instance_id FROM breaker_events
WHERE ts >= %(start)s AND ts < %(end)s AND (mode IS NULL OR mode = ANY(%(modes)s))
ORDER BY ts, id"""

UPTIME = """
SELECT greatest(started_at, %(start)s), least(last_seen, %(end)s) FROM instances
WHERE started_at < %(end)s AND last_seen > %(start)s"""

FEED_GAPS = """
SELECT feed, coalesce(asset, ''), count(*),
       sum(extract(epoch FROM least(coalesce(end_ts, %(end)s), %(end)s)
                               - greatest(start_ts, %(start)s)))::float
FROM feed_gaps WHERE start_ts < %(end)s AND coalesce(end_ts, %(end)s) > %(start)s
GROUP BY 1, 2 ORDER BY 1, 2"""

SETTLEMENTS = """
SELECT agreement, count(*) FROM settlements
WHERE ts >= %(start)s AND ts < %(end)s AND mode = ANY(%(modes)s) GROUP BY agreement"""

DISAGREEMENTS = """
SELECT window_slug, mode, ours, venue, ts FROM settlements
WHERE ts >= %(start)s AND ts < %(end)s AND mode = ANY(%(modes)s) AND agreement = 'disagree'
ORDER BY ts"""

CASH = """
SELECT m.mode,
  (SELECT usd FROM balances WHERE mode = m.mode AND source = 'expected' AND ts < %(end)s
   ORDER BY ts DESC, id DESC LIMIT 1),
  (SELECT usd FROM balances WHERE mode = m.mode AND source = 'venue' AND ts < %(end)s
   ORDER BY ts DESC, id DESC LIMIT 1),
  count(*) FILTER (WHERE r.resolved_ts < %(end)s
                   AND (r.redeemed_ts IS NULL OR r.redeemed_ts >= %(end)s)),
  coalesce(sum(r.expected_usd) FILTER (WHERE r.resolved_ts < %(end)s
                   AND (r.redeemed_ts IS NULL OR r.redeemed_ts >= %(end)s)), 0),
  count(*) FILTER (WHERE r.redeemed_ts >= %(start)s AND r.redeemed_ts < %(end)s),
  coalesce(sum(r.expected_usd) FILTER (WHERE r.redeemed_ts >= %(start)s
                   AND r.redeemed_ts < %(end)s), 0)
FROM (SELECT DISTINCT mode FROM redemptions WHERE mode = ANY(%(modes)s)) m
JOIN redemptions r ON r.mode = m.mode
GROUP BY m.mode ORDER BY m.mode"""

ALERTS = """
SELECT kind, count(*) FROM alerts WHERE ts >= %(start)s AND ts < %(end)s
AND kind <> 'daily_summary' GROUP BY kind ORDER BY kind"""


@dataclass(frozen=True, slots=True)
class StrategyDay:
    """One (mode, strategy)'s trading in the day."""

    mode: str
    strategy: str
    trades: int
    orders: int
    fills: int
    closed: int
    wins: int
    pnl_gross: Decimal
    pnl_net: Decimal
    fees: Decimal


@dataclass(frozen=True, slots=True)
class CashDay:
    """Where a mode that settles by redemption (LIVE on Polymarket) stands at the day's end:
    its cash (our ledger; the venue's last report), its receivables (resolved positions
    awaiting redemption) and what the day's redemptions brought in."""

    mode: str
    cash: Decimal | None
    venue_cash: Decimal | None
    awaiting: int
    receivable: Decimal
    redeemed: int
    redeemed_usd: Decimal


@dataclass(frozen=True, slots=True)
class DailySummary:
    """Every figure of the daily summary for one UTC day."""

    day: date
    start: datetime
    end: datetime  # exclusive; `now` for today
    strategies: list[StrategyDay]
    assertions: dict[str, tuple[int, int]]  # name → (checked, passed)
    breaker_events: list[dict]
    uptime_s: float
    feed_gaps: list[dict]
    settlements: dict[str, int]  # agreement → count
    disagreements: list[dict]
    alerts: dict[str, int] = field(default_factory=dict)
    cash: list[CashDay] = field(default_factory=list)

    @property
    def span_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def uptime_ratio(self) -> float | None:
        return self.uptime_s / self.span_s if self.span_s > 0 else None

    @property
    def assertions_checked(self) -> int:
        return sum(checked for checked, _ in self.assertions.values())

    @property
    def assertions_passed(self) -> int:
        return sum(passed for _, passed in self.assertions.values())

    @property
    def assertion_pass_rate(self) -> float | None:
        n = self.assertions_checked
        return self.assertions_passed / n if n else None

    @property
    def breaker_trips(self) -> int:
        return sum(1 for event in self.breaker_events if event["tripped"])

    @property
    def feed_gap_count(self) -> int:
        return sum(g["gaps"] for g in self.feed_gaps)

    @property
    def feed_gap_s(self) -> float:
        return sum(g["seconds"] for g in self.feed_gaps)

    @property
    def settlement_agreement_rate(self) -> float | None:
        decided = self.settlements.get("agree", 0) + self.settlements.get("disagree", 0)
        return self.settlements.get("agree", 0) / decided if decided else None

    def total(self, column: str) -> Decimal | int:
        return sum((getattr(s, column) for s in self.strategies), Decimal(0))

    @property
    def healthy(self) -> bool:
        """No assertion failed, no breaker tripped, no settlement disagreed."""
        return (
            self.assertions_passed == self.assertions_checked
            and self.breaker_trips == 0
            and not self.disagreements
        )


def day_bounds(day: date, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the UTC day, ending at `now` if the day is not over."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, min(start + timedelta(days=1), max(now, start))


def _union_seconds(intervals: Sequence[tuple[datetime, datetime]]) -> float:
    total, reach = 0.0, None
    for begin, finish in sorted(intervals):
        if reach is not None and begin < reach:
            begin = reach
        if finish > begin:
            total += (finish - begin).total_seconds()
            reach = finish if reach is None else max(reach, finish)
    return total


def daily_summary(
    conn: psycopg.Connection, day: date, *, now: datetime, modes: Sequence[str] = RUNNER_MODES
) -> DailySummary:
    """Query every figure of `day` (UTC) from the store."""
    start, end = day_bounds(day, now)
    args = {"start": start, "end": end, "modes": list(modes)}

    def rows(sql: str) -> list[tuple]:
        return conn.execute(sql, args).fetchall()

    return DailySummary(
        day=day,
        start=start,
        end=end,
        strategies=[StrategyDay(*row) for row in rows(STRATEGIES)],
        assertions={name: (checked, passed) for name, checked, passed in rows(ASSERTIONS)},
        breaker_events=[
            dict(zip(("id", "ts", "tripped", "reason", "instance_id"), r, strict=True))
            for r in rows(BREAKERS)
        ],
        uptime_s=_union_seconds(rows(UPTIME)),
        feed_gaps=[
            dict(zip(("feed", "asset", "gaps", "seconds"), r, strict=True)) for r in rows(FEED_GAPS)
        ],
        settlements=dict(rows(SETTLEMENTS)),
        disagreements=[
            dict(zip(("window_slug", "mode", "ours", "venue", "ts"), r, strict=True))
            for r in rows(DISAGREEMENTS)
        ],
        alerts=dict(rows(ALERTS)),
        cash=[CashDay(*row) for row in rows(CASH)],
    )


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{100 * ratio:.2f} %"


def _pnl(fees: Decimal, net: Decimal) -> str:
    """`gross +$x, fees $y, net +$z` by the one money rule (gross − fees = net to the cent)."""
    shown = money.pnl(fees=fees, net=net)
    return (
        f"gross {money.usd(shown.gross, signed=True)}, fees {money.usd(shown.fees)}, "
        f"net {money.usd(shown.net, signed=True)}"
    )


def shown_strategies(s: DailySummary) -> list[dict]:
    """The per-strategy rows as the report shows them: counts, and money by the one rule."""
    rows = []
    for st in s.strategies:
        row = {f: getattr(st, f) for f in st.__slots__}
        shown = money.pnl(fees=st.fees, net=st.pnl_net)
        rows.append(row | {"pnl_gross": shown.gross, "fees": shown.fees, "pnl_net": shown.net})
    return rows


def summary_lines(s: DailySummary) -> list[str]:
    """The summary as short lines: the daily_summary alert's body and the report's headline."""
    lines = [
        f"Trades: {s.total('trades')} opened, {s.total('closed')} closed "
        f"({s.total('wins')} won); P&L {_pnl(s.total('fees'), s.total('pnl_net'))}"
    ]
    for st in s.strategies:
        lines.append(
            f"  {st.mode} {st.strategy}: {st.trades} trades, {st.closed} closed, "
            f"{_pnl(st.fees, st.pnl_net)}"
        )
    failed = {n: c - p for n, (c, p) in s.assertions.items() if c > p}
    lines.append(
        f"Assertions: {s.assertions_passed}/{s.assertions_checked} passed "
        f"({_pct(s.assertion_pass_rate)})"
        + ("; failed: " + ", ".join(f"{n} ×{k}" for n, k in failed.items()) if failed else "")
    )
    for c in s.cash:
        lines.append(
            f"Cash ({c.mode}): {money.usd(c.cash)} (venue {money.usd(c.venue_cash)}), "
            f"receivable {money.usd(c.receivable)} ({c.awaiting} awaiting redemption); "
            f"redeemed today {c.redeemed} ({money.usd(c.redeemed_usd)})"
        )
    lines.append(f"Breaker: {s.breaker_trips} trip(s), {len(s.breaker_events)} event(s)")
    lines.append(
        f"Uptime: {s.uptime_s / 3600:.2f} h of {s.span_s / 3600:.2f} h ({_pct(s.uptime_ratio)})"
    )
    lines.append(f"Feed gaps: {s.feed_gap_count}, {s.feed_gap_s:.0f} s in total")
    agreement = ", ".join(f"{k} {v}" for k, v in sorted(s.settlements.items())) or "none"
    lines.append(f"Settlements: {agreement} (agreement {_pct(s.settlement_agreement_rate)})")
    return lines


def summary_alert(s: DailySummary, report: str | None) -> dict:
    """Keyword arguments for `Alerter.raise_` carrying the summary (kind daily_summary)."""
    return {
        "kind": "daily_summary",
        "where": f"daily summary {s.day.isoformat()} (UTC)",
        "what_happened": "\n".join(summary_lines(s)),
        "what_we_did": f"report written to {report}" if report else "nothing: informational",
        "severity": "info" if s.healthy else "warning",
        "detail": {
            "day": s.day.isoformat(),
            "pnl_net": str(s.total("pnl_net")),
            "assertion_pass_rate": s.assertion_pass_rate,
            "breaker_trips": s.breaker_trips,
            "uptime_ratio": s.uptime_ratio,
            "report": report,
        },
    }
