"""The look-ahead proof (FM12): replay again with everything after each decision point withheld
and compare the decisions.

The engine only ever sees events with ts ≤ now, and the strategy's view refuses anything later
(live.kernel.strategy.WindowView). What that cannot stop is a strategy reaching data some other way
(a global, the driver's event list, a file). So for every decision time t of the full run, this
check re-runs the strategy from the start on the events with ts ≤ t only — the rest of the data
does not exist in that run — and demands the same decisions at t. Any difference is look-ahead.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from live.kernel.records import DecisionRecord
from research.backtest import build_engine, drive, shift_sources, with_params
from research.data import Dataset

Decision = tuple[int, str, str | None, str, str | None]  # ts, window, side, verdict, code


@dataclass(frozen=True, slots=True)
class LookaheadReport:
    """Checked decision points; the first divergence (full run vs truncated run), if any."""

    decision_points: int
    decisions: int
    divergence: str | None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def text(self) -> str:
        """One line, as stored in the run's summary (`lookahead_check`) and printed."""
        if not self.ok:
            return f"FAILED: {self.divergence}"
        return (f"passed: {self.decisions} decisions at {self.decision_points} decision points "
                "identical with all later data withheld")  # fmt: skip


def _key(d: DecisionRecord) -> Decision:
    return (d.ts, d.window_slug, d.inputs.get("side"), d.verdict, d.code)


def decisions_of(strategy, events: list[Any], fill_model: str) -> list[Decision]:
    engine = build_engine(strategy, fill_model, "lookahead", Decimal("100"))
    out: list[Decision] = []

    def keep(batch: list[Any]) -> None:
        out.extend(_key(r) for r in batch if type(r) is DecisionRecord)

    drive(engine, events, keep)
    return out


def check_lookahead(
    strategy,
    dataset: Dataset,
    *,
    fill_model: str = "book",
    latency_ms: Mapping[str, int] | None = None,
    params: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> LookaheadReport:
    """Compare the full run's decisions with truncated re-runs at every decision time;
    `progress` shows a bar over the decision points (each is a re-run from the start)."""
    from strategies import get_strategy

    base = get_strategy(strategy) if isinstance(strategy, str) else strategy
    chosen = with_params(base, params or {})
    items = shift_sources(dataset.items, dict(latency_ms or {}))
    events = [e for _, _, e in items]
    stamps = [ts for ts, _, _ in items]
    full = decisions_of(chosen, events, fill_model)
    points = sorted({d[0] for d in full})
    bar = _bar(progress, len(points))
    try:
        for t in points:
            visible = events[: bisect_right(stamps, t)]  # a new list: the future is not in it
            cut = decisions_of(chosen, visible, fill_model)
            expected = [d for d in full if d[0] <= t]
            if cut != expected:
                return LookaheadReport(len(points), len(full), _describe(t, expected, cut))
            if bar is not None:
                bar[0].advance(bar[1])
    finally:
        if bar is not None:
            bar[0].stop()
    return LookaheadReport(len(points), len(full), None)


def _bar(progress: bool, total: int):
    if not progress or not total:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("look-ahead check", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bar.start()
    return bar, bar.add_task("points", total=total)


def _describe(t: int, expected: list[Decision], cut: list[Decision]) -> str:
    for i in range(max(len(expected), len(cut))):
        a = expected[i] if i < len(expected) else None
        b = cut[i] if i < len(cut) else None
        if a != b:
            return (
                f"first divergent decision at ts={t}: with all data {_fmt(a)}; "
                f"with data after ts={t} withheld {_fmt(b)}"
            )
    return f"decisions differ at ts={t}"


def _fmt(d: Decision | None) -> str:
    if d is None:
        return "no decision"
    ts, slug, side, verdict, code = d
    return f"{slug} @ {ts}: {verdict} {side or ''}{' ' + code if code else ''}".strip()
