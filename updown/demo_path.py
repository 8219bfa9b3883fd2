"""The demo's path as it happens, read from the database once a second: the canary's settled
DRY_RUN windows (the gate's evidence), the promotion (the demo runs the gate itself, as
`updown promote canary --to paper` would, as soon as the evidence is there), the LIVE orders on
the sandbox and their settlement. Each step is said once, when it happens, with the seconds since
the demo started; `phrase()` is the path in a few words for the status line.

Settling to cash the way Polymarket does (issue 13): the sandbox pays nothing at the resolution;
the runner redeems each resolved LIVE window through the SDK and the cash arrives when the
redemption is confirmed. The path says the first redemption once, and the status line counts the
redeemed windows with their cash and what is still owed (resolved, awaiting redemption).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

from live.promotion.kill_criteria import KillVerdict, evaluate_kill, load_kill_criterion
from live.promotion.status import PromotionStatus, prereg_path, promotion_status
from live.reports.money import usd
from research import gate
from strategies.canary import CANARY

STRATEGY = "canary"
NAMES = (CANARY.name, *CANARY.aliases)
EVIDENCE_MODES = gate.EVIDENCE_MODES["paper"]  # DRY_RUN (and BACKTEST) windows
_LIVE_REDEMPTIONS = """
SELECT count(*) FILTER (WHERE status = 'REDEEMED') OVER (),
       coalesce(sum(expected_usd) FILTER (WHERE status = 'REDEEMED') OVER (), 0),
       count(*) FILTER (WHERE status = 'PENDING') OVER (),
       coalesce(sum(expected_usd) FILTER (WHERE status = 'PENDING') OVER (), 0),
       window_slug, expected_usd, via, attempts,
       extract(epoch FROM redeemed_ts - resolved_ts)
FROM redemptions WHERE mode = 'LIVE' AND resolved_ts >= %s
ORDER BY (status = 'REDEEMED') DESC, redeemed_ts, position_id LIMIT 1
"""

_LIVE_ORDERS = """
SELECT count(*) OVER (), window_slug, side, outcome, requested_usd, state, avg_price
FROM orders WHERE mode = 'LIVE' AND strategy = ANY(%s) AND created_ts >= %s
ORDER BY created_ts, client_order_id LIMIT 1
"""
_LIVE_RECORD = """
SELECT pnl_net FROM positions WHERE strategy = %s AND mode = 'LIVE' AND pnl_net IS NOT NULL
ORDER BY closed_ts, position_id
"""
_LIVE_OPEN = """
SELECT count(*) FROM positions WHERE mode = 'LIVE' AND state <> 'CLOSED' AND opened_ts >= %s
"""  # of any strategy: the runner's reconciliation compares them all with the venue
_LIVE_SETTLED = """
SELECT count(*) OVER (), sum(pnl_net) OVER (), window_slug, outcome, resolution, pnl_net
FROM positions WHERE mode = 'LIVE' AND strategy = ANY(%s) AND state = 'CLOSED'
  AND opened_ts >= %s
ORDER BY closed_ts, position_id LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class Record:
    """What the database holds for the canary when the demo starts: settled DRY_RUN windows
    (up to the gate's 10), a valid promotion, the kill criterion over its earlier LIVE
    positions, and LIVE positions an earlier session left open."""

    evidence: int
    promotion: PromotionStatus | None
    kill: KillVerdict
    open_live: int
    venue_kept: bool = False  # the sandbox the last demo left running is in use

    def lines(self) -> list[str]:
        """What each fact means for this session, in words (nothing when the record is empty)."""
        out = []
        if self.promotion is not None:
            p = self.promotion
            out.append(
                f"the canary holds a valid {p.target} promotion #{p.promotion_id} (recorded "
                f"{p.promoted_at:%Y-%m-%d %H:%M}): LIVE orders from the first window"
            )
        elif self.evidence:
            out.append(f"{self.evidence} settled DRY_RUN windows already count towards the gate")
        if self.kill.n:
            out.append(f"earlier LIVE positions of the canary: {self.kill.n}, {self.kill.detail}")
            if self.kill.hit:
                out.append(
                    "its kill criterion is already hit: the runner disables the canary at its "
                    "first LIVE settlement (a fresh database starts clean)"
                )
        if self.open_live and self.venue_kept:
            out.append(
                f"{self.open_live} LIVE positions of an earlier session are still open or owed "
                "on the sandbox it left running: the runner adopts them, settles them and "
                "redeems the winners"
            )
        elif self.open_live:
            out.append(
                f"{self.open_live} LIVE positions of an earlier session are still open, and this "
                "new sandbox does not hold them: the runner's startup reconciliation fails and "
                "it stays an observer (no LIVE orders; a fresh database starts clean)"
            )
        return out


@dataclass
class PathProgress:
    """How far the path has come; `at` maps each reached step to its seconds since the start
    (None: reached before this session, e.g. a promotion on record)."""

    evidence: int = 0
    evidence_key: tuple = ()
    promotion_id: int | None = None
    revoked: str | None = None  # why the promotion was revoked (the kill criterion, an operator)
    live_orders: int = 0
    live_settled: int = 0
    live_net: Decimal = Decimal(0)
    redeemed: int = 0  # LIVE positions whose cash arrived (confirmed redemption)
    redeemed_usd: Decimal = Decimal(0)
    awaiting: int = 0  # resolved, awaiting redemption
    awaiting_usd: Decimal = Decimal(0)
    at: dict[str, float | None] = field(default_factory=dict)


class DemoPath:
    """Watches the path in the database at `url` (rows since `since`) and says each step."""

    def __init__(
        self, url: str, repo: Path, since: datetime, say: Callable[[str], None], start_s: float
    ) -> None:
        self.url, self.repo, self.since, self.say = url, repo, since, say
        self.start_s = start_s  # time.monotonic() at the demo's start
        self.progress = PathProgress()
        self._last_gate = ""

    @property
    def promoted(self) -> bool:
        return self.progress.promotion_id is not None

    def _step(self, name: str, tag: str, text: str) -> None:
        elapsed = time.monotonic() - self.start_s
        self.progress.at.setdefault(name, elapsed)
        self.say(f"+{elapsed:4.0f} s  {tag:<9} {text}")

    # ------------------------------------------------------------------ reading

    def begin(self, venue_kept: bool = False) -> Record:
        """Read what the database already holds for the canary and start the path from it (so
        nothing on record is said as new); say what it means for this session (`venue_kept`:
        the sandbox the last demo left running is in use)."""
        with psycopg.connect(self.url) as conn:
            windows = gate.last_settled_windows(conn, NAMES, EVIDENCE_MODES, gate.WINDOWS_REQUIRED)
            promotion = self._valid_promotion(conn)
            pnls = [row[0] for row in conn.execute(_LIVE_RECORD, (CANARY.name,))]
            still_open = conn.execute(_LIVE_OPEN, (datetime.min.replace(tzinfo=UTC),)).fetchone()
        kill = evaluate_kill(load_kill_criterion(prereg_path(self.repo, STRATEGY)), pnls)
        record = Record(len(windows), promotion, kill, still_open[0], venue_kept)
        self.progress.evidence = len(windows)
        self.progress.evidence_key = tuple(w.slug for w in windows)
        if promotion is not None:
            self.progress.promotion_id = promotion.promotion_id
            self.progress.at.update(first_evidence=None, promotion=None)  # before this session
        for line in record.lines():
            self.say(f"record       {line}")
        return record

    def _valid_promotion(self, conn: psycopg.Connection) -> PromotionStatus | None:
        for target in ("paper", "live"):
            status = promotion_status(conn, CANARY.name, self.repo, target)
            if status.valid:
                return status
        return None

    def poll(self) -> None:
        """Read the path's rows once and say every step reached since the last poll."""
        with psycopg.connect(self.url) as conn:
            self._evidence(conn)
            if not self.promoted:
                self._promotion(conn)
            elif self.progress.revoked is None:
                self._revocation(conn)
            self._live_orders(conn)
            self._live_settled(conn)
            self._live_redeemed(conn)

    def _evidence(self, conn: psycopg.Connection) -> None:
        windows = gate.last_settled_windows(conn, NAMES, EVIDENCE_MODES, gate.WINDOWS_REQUIRED)
        key = tuple(w.slug for w in windows)
        if key == self.progress.evidence_key:
            return
        grew = len(windows) > self.progress.evidence
        self.progress.evidence, self.progress.evidence_key = len(windows), key
        if grew and not self.promoted:
            net = sum((w.pnl_net or Decimal(0) for w in windows), Decimal(0))
            self._step(
                "first_evidence",
                "evidence",
                f"{len(windows)}/{gate.WINDOWS_REQUIRED} DRY_RUN windows settled (newest "
                f"{windows[0].slug}; net {usd(net, signed=True)} over them)",
            )

    def _revocation(self, conn: psycopg.Connection) -> None:
        """A revoked promotion (the kill criterion, or an operator) ends LIVE trading; the demo
        does not promote again in this session."""
        row = conn.execute(
            "SELECT revoked_reason FROM promotions WHERE id = %s AND revoked_at IS NOT NULL",
            (self.progress.promotion_id,),
        ).fetchone()
        if row is None:
            return
        self.progress.revoked = row[0] or "no reason given"
        self._step(
            "revoked",
            "REVOKED",
            f"promotion #{self.progress.promotion_id} revoked: {self.progress.revoked}; LIVE "
            "entries are denied from now on (the demo does not promote again)",
        )

    def _promotion(self, conn: psycopg.Connection) -> None:
        status = self._valid_promotion(conn)
        if status is not None:
            self.progress.promotion_id = status.promotion_id
            self._step(
                "promotion",
                "PROMOTED",
                f"the canary holds a valid {status.target} promotion #{status.promotion_id} "
                f"(recorded {status.promoted_at:%Y-%m-%d %H:%M}): LIVE orders may reach the "
                "sandbox from the next window",
            )
            return
        if self.progress.evidence < gate.WINDOWS_REQUIRED:
            return
        result = gate.evaluate(conn, self.repo, STRATEGY, "paper")
        if not result.passed:
            failing = next(c for c in result.checks if not c.ok)
            text = f"not yet: {failing.name}: {failing.evidence}"
            if text != self._last_gate:
                self._last_gate = text
                self._step("gate_refused", "gate", text)
            return
        self.progress.promotion_id = gate.record(conn, result)
        pnl = next(c for c in result.checks if c.name == "pnl_range")
        self._step(
            "promotion",
            "PROMOTED",
            f"the gate passed the canary to paper (promotion #{self.progress.promotion_id}): "
            f"{pnl.evidence}; LIVE orders may now reach the sandbox",
        )

    def _live_orders(self, conn: psycopg.Connection) -> None:
        row = conn.execute(_LIVE_ORDERS, (list(NAMES), self.since)).fetchone()
        if row is None:
            return
        count, slug, side, outcome, usd_asked, state, price = row
        if self.progress.live_orders == 0:
            at = f" at {price:.2f}" if price is not None else ""
            self._step(
                "live_order",
                "LIVE",
                f"first order on the sandbox: {side} {outcome} {slug} "
                f"{usd(usd_asked)} ({state}{at})",
            )
        self.progress.live_orders = count

    def _live_settled(self, conn: psycopg.Connection) -> None:
        row = conn.execute(_LIVE_SETTLED, (list(NAMES), self.since)).fetchone()
        if row is None:
            return
        count, total, slug, outcome, resolution, net = row
        if self.progress.live_settled == 0:
            verdict = "won" if outcome == resolution else "lost"
            self._step(
                "live_settled",
                "LIVE",
                f"first position settled: {slug} held {outcome}, resolved {resolution} "
                f"({verdict}), net {usd(net, signed=True)}",
            )
        self.progress.live_settled, self.progress.live_net = count, total

    def _live_redeemed(self, conn: psycopg.Connection) -> None:
        row = conn.execute(_LIVE_REDEMPTIONS, (self.since,)).fetchone()
        if row is None:
            return
        redeemed, cash, awaiting, owed, slug, paid, via, attempts, after_s = row
        p = self.progress
        if redeemed and p.redeemed == 0:
            self._step(
                "redemption",
                "redeem",
                f"first redemption confirmed: {slug} {usd(paid)} cash arrived "
                f"{float(after_s or 0):.0f} s after its resolution (via {via}, "
                f"{attempts} attempt{'s' if attempts != 1 else ''})",
            )
        p.redeemed, p.redeemed_usd, p.awaiting, p.awaiting_usd = redeemed, cash, awaiting, owed

    # ------------------------------------------------------------------ saying

    def phrase(self) -> str:
        """The path in a few words: `evidence 7/10 > gate waiting > LIVE orders 0 > ...`."""
        p = self.progress
        gate_word = "waiting"
        if self.promoted:
            gate_word = f"{'REVOKED' if p.revoked else 'promoted'} #{p.promotion_id}"
        return (
            f"path: evidence {p.evidence}/{gate.WINDOWS_REQUIRED} > gate {gate_word} > "
            f"LIVE orders {p.live_orders} > settled {p.live_settled} "
            f"(net {usd(p.live_net, signed=True)}) > redeemed {p.redeemed} "
            f"({usd(p.redeemed_usd)} cash; awaiting {p.awaiting}, {usd(p.awaiting_usd)})"
        )

    def summary(self) -> str:
        """Seconds from the start to each step reached, for the closing line."""
        steps = (
            ("first DRY_RUN window settled", "first_evidence"),
            ("promoted", "promotion"),
            ("first LIVE order", "live_order"),
            ("first LIVE settled", "live_settled"),
            ("first redeemed", "redemption"),
        )
        parts = [f"{label} {self._when(key)}" for label, key in steps]
        return "timeline   " + ", ".join(parts)

    def _when(self, step: str) -> str:
        if step not in self.progress.at:
            return "not reached"
        seconds = self.progress.at[step]
        return "on record" if seconds is None else f"+{seconds:.0f} s"
