"""Signal replay (parity, DESIGN §8): replay a recorded PAPER / LIVE(sandbox) session's journal
through a fresh engine and compare its signals, risk verdicts and exits with what the session
recorded. Same code path, same inputs ⇒ 100 %; anything else is listed.

A session is a `backtest_runs` row of kind 'session' (the runner writes `<instance>-primary-
<stamp>`); its market data is the `market_events` of its time range (the runner's recorder
journals every feed message there). The replay is unfiltered — the session saw the raw stream —
and runs in PAPER (a LIVE session's fills came from the venue, so its exits may legitimately
differ where the paper fills differ; they are listed, not hidden).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from live.journal.codec import parse_event
from live.journal.replay import replay_controls
from live.kernel.controls import Controls
from live.kernel.domain import Mode, Position
from live.kernel.engine import Engine, EngineConfig
from live.kernel.executors import DryRunExecutor, PaperExecutor
from live.kernel.records import DecisionRecord, PositionEventRecord, SignalRecord
from research import store
from strategies import resolve

SESSION_BALANCE = Decimal("100")  # the runner's paper_balance_usd default (RunnerConfig)
EXIT_STATES = ("STOP_TRIGGERED", "TAKE_PROFIT_TRIGGERED", "TRAILING_TRIGGERED",
               "FLATTEN_REQUESTED", "EXPIRY")  # fmt: skip


@dataclass
class Category:
    """Matches of one kind of decision (signals, verdicts or exits)."""

    name: str
    total: int = 0
    matched: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def pct(self) -> float:
        return 100.0 if not self.total else 100.0 * self.matched / self.total


@dataclass
class ParityReport:
    session: str
    events: int
    categories: list[Category]

    @property
    def ok(self) -> bool:
        return all(c.matched == c.total for c in self.categories)

    def text(self) -> str:
        lines = [f"signal replay of {self.session}: {self.events:,} market events"]
        for c in self.categories:
            lines.append(f"  {c.name}: {c.matched}/{c.total} match ({c.pct:.1f} %)")
            lines.extend(f"    mismatch: {m}" for m in c.mismatches)
        return "\n".join(lines)


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def session_range(conn: Any, run_id: str) -> tuple[str, str, int, int]:
    """(mode, strategies, from ms, to ms) of a recorded session; ValueError if unknown."""
    row = conn.execute(
        "SELECT mode, strategy, coalesce(data_from, started_at), coalesce(data_to, finished_at)"
        " FROM backtest_runs WHERE run_id = %s AND kind = 'session'",
        (run_id,),
    ).fetchone()
    if row is None:
        raise ValueError(f"no recorded session {run_id!r} in backtest_runs (kind 'session')")
    mode, strategies, lo, hi = row
    if hi is None:
        last = conn.execute("SELECT max(ts) FROM decisions WHERE run_id = %s", (run_id,)).fetchone()
        hi = last[0] or datetime.now(UTC)
    return mode, strategies or "canary", _ms(lo), _ms(hi) + 1


INPUTS = """SELECT payload FROM market_events WHERE kind = 'engine_input'
    AND payload->>'run_id' = %s ORDER BY (payload->>'seq')::bigint"""


def replay_inputs(conn: Any, run_id: str) -> tuple[list[Any], int] | None:
    """Replay the engine-input journal the runner wrote for a simulated engine (every event in
    dispatch order, its controls at start as seq 0), through an engine configured as the
    runner configures that engine; None if the session has no such journal."""
    payloads = [r[0] for r in conn.execute(INPUTS, (run_id,))]
    if not payloads:
        return None
    mode_name, names, _, _ = session_range(conn, run_id)
    mode = Mode(mode_name)
    strategies = resolve(names)
    start = payloads[0] if payloads[0].get("kind") == "controls" else None
    controls = Controls.from_mapping(start["values"]) if start else None
    prefix = conn.execute(
        "SELECT signal_id FROM signals WHERE run_id = %s LIMIT 1", (run_id,)
    ).fetchone()
    engine = Engine(
        EngineConfig(
            mode=mode,
            strategies=strategies,
            run_id=f"parity-{run_id}",
            controls=controls or replay_controls(mode, strategies, names.split(",")),
            balance_usd=SESSION_BALANCE,
            executor=PaperExecutor(SESSION_BALANCE)
            if mode is Mode.PAPER
            else DryRunExecutor(SESSION_BALANCE),
            signal_id_prefix=f"{mode}:" if prefix and prefix[0].startswith(f"{mode}:") else "",
        )
    )
    produced: list[Any] = []
    for payload in payloads[1:] if start else payloads:
        engine.process(
            parse_event({k: v for k, v in payload.items() if k not in ("seq", "run_id")})
        )
        if engine.records:
            produced.extend(engine.take_records())
    return produced, len(payloads)


def replay_session(conn: Any, run_id: str) -> tuple[list[Any], int]:
    """The records a fresh engine produces from the session's journalled engine inputs, else
    (older sessions) a fresh PAPER engine from the session's market events."""
    journalled = replay_inputs(conn, run_id)
    if journalled is not None:
        return journalled
    mode, names, lo, hi = session_range(conn, run_id)
    rows = [r for r in store.fetch_rows(conn, lo, hi) if r[0] < hi]
    strategies = resolve(names)
    config = EngineConfig(
        mode=Mode.PAPER,
        strategies=strategies,
        run_id=f"parity-{run_id}",
        controls=replay_controls(Mode.PAPER, strategies, names.split(",")),
    )
    engine = Engine(config)
    produced: list[Any] = []
    for _, _, _, payload in rows:
        engine.process(parse_event(payload))
        if engine.records:
            produced.extend(engine.take_records())
    return produced, len(rows)


def signal_replay(conn: Any, run_id: str) -> ParityReport:
    """Compare the session's recorded decisions with a replay of its journal."""
    produced, events = replay_session(conn, run_id)
    ours = _replayed(produced)
    theirs = _recorded(conn, run_id)
    cats = [_compare(name, theirs[i], ours[i]) for i, name in enumerate(_NAMES)]
    return ParityReport(run_id, events, cats)


_NAMES = ("signals", "risk verdicts", "exits")


def _replayed(records: Sequence[Any]) -> tuple[dict, dict, dict]:
    signals, verdicts, exits = {}, {}, {}
    positions = {r.position_id: r for r in records if type(r) is Position}
    for r in records:
        if type(r) is SignalRecord:
            signals[r.signal_id] = (r.window_slug, str(r.side), str(r.usd.normalize()))
        elif type(r) is DecisionRecord and r.signal_id:
            verdicts[r.signal_id] = (r.verdict, r.code)
        elif type(r) is PositionEventRecord and r.to_state in EXIT_STATES:
            p = positions[r.position_id]
            exits[(p.strategy, p.window_slug, str(p.outcome), r.to_state)] = r.ts
    return signals, verdicts, exits


def _recorded(conn: Any, run_id: str) -> tuple[dict, dict, dict]:
    signals = {
        sid: (slug, side, str(Decimal(usd).normalize()))
        for sid, slug, side, usd in conn.execute(
            "SELECT signal_id, window_slug, side, usd FROM signals WHERE run_id = %s", (run_id,)
        )
    }
    verdicts = {
        sid: (verdict, code)
        for sid, verdict, code in conn.execute(
            "SELECT signal_id, verdict, code FROM decisions WHERE run_id = %s AND signal_id"
            " IS NOT NULL",
            (run_id,),
        )
    }
    exits = {
        (strategy, slug, outcome, state): _ms(ts)
        for strategy, slug, outcome, state, ts in conn.execute(
            "SELECT p.strategy, p.window_slug, p.outcome, e.to_state, e.ts FROM position_events e"
            " JOIN positions p USING (position_id) WHERE p.run_id = %s AND e.to_state = ANY(%s)",
            (run_id, list(EXIT_STATES)),
        )
    }
    return signals, verdicts, exits


def _compare(name: str, recorded: dict, replayed: dict) -> Category:
    cat = Category(name)
    for key in sorted(set(recorded) | set(replayed), key=str):
        cat.total += 1
        a, b = recorded.get(key), replayed.get(key)
        if a == b:
            cat.matched += 1
        else:
            cat.mismatches.append(f"{key}: session {a if a is not None else 'nothing'}; "
                                  f"replay {b if b is not None else 'nothing'}")  # fmt: skip
    return cat
