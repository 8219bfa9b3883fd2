"""The replay driver: journal files → engine (with its simulated executor) → records.

A thin shell (DESIGN §1.5): it reads the journal files merged by ts, hands each event to the
engine, and passes the records each event produced to the caller (printing, the sink). A bad
journal line raises JournalError when it is reached, before the engine sees it; with
`skip_invalid` it is counted instead. Runtime controls start at their defaults except that the
strategies asked for are the ones allowed; `control` lines change them as the replay goes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from live.journal.reader import read_journal
from live.kernel import records
from live.kernel.controls import ControlMode, Controls
from live.kernel.domain import Fill, Mode, Order
from live.kernel.engine import Engine, EngineConfig
from live.kernel.strategy import Strategy
from strategies import resolve

DEFAULT_STRATEGIES = "canary"

# What a replay prints: the record types and the name of their line.
PRINTED: dict[type, str] = {
    records.DecisionRecord: "decision",
    Order: "order",
    Fill: "fill",
    records.PositionEventRecord: "position",
    records.SettlementRecord: "settlement",
    records.BreakerRecord: "breaker",
}


@dataclass
class ReplayResult:
    """What a replay did: events applied, lines skipped, settlement agreement counts."""

    events: int = 0
    skipped: int = 0
    skipped_errors: list[str] = field(default_factory=list)
    settlements: Counter[str] = field(default_factory=Counter)
    first_ts: int | None = None
    last_ts: int | None = None

    def summary_line(self) -> str:
        s = self.settlements
        return (
            f"settlements: agree={s['agree']} disagree={s['disagree']} uncertain={s['uncertain']}"
        )


def replay_controls(mode: Mode, strategies: Sequence[Strategy], names: Iterable[str]) -> Controls:
    """Defaults, with the trading mode of a simulated run and the requested strategies allowed."""
    controls = Controls()
    if mode in (Mode.PAPER, Mode.DRY_RUN):
        controls = replace(controls, trading_mode=ControlMode(str(mode)))
    allowed = {n.strip() for n in names if n.strip()} | {s.name for s in strategies}
    return controls.with_value("allowed_strategies", ",".join(sorted(allowed)))


def build_engine(
    strategy_names: str = DEFAULT_STRATEGIES,
    *,
    mode: Mode = Mode.BACKTEST,
    balance: Decimal = Decimal("100"),
    run_id: str = "replay",
) -> Engine:
    """An engine for a replay: the named strategies (comma list or '*'), allowed by the controls."""
    strategies = resolve(strategy_names)
    names = strategy_names.split(",") if strategy_names != "*" else []
    config = EngineConfig(
        mode=mode,
        strategies=strategies,
        run_id=run_id,
        controls=replay_controls(mode, strategies, names),
        balance_usd=balance,
    )
    return Engine(config)


def replay(
    paths: Sequence[str | Path],
    engine: Engine,
    *,
    on_records: Callable[[list[Any]], None] | None = None,
    skip_invalid: bool = False,
) -> ReplayResult:
    """Feed the merged journal files through `engine`; `on_records` gets each event's records."""
    result = ReplayResult()
    reader = read_journal(paths, skip_invalid=skip_invalid)
    process, taken = engine.process, engine.records
    settlement_type = records.SettlementRecord
    for event in reader:
        if result.first_ts is None:
            result.first_ts = event.ts
        process(event)
        result.events += 1
        if taken:
            batch = engine.take_records()
            for record in batch:
                if type(record) is settlement_type:
                    result.settlements[record.agreement] += 1
            if on_records is not None:
                on_records(batch)
    result.last_ts = engine.now if result.events else None
    result.skipped, result.skipped_errors = reader.skipped, reader.errors
    return result


def record_line(record: Any) -> str | None:
    """The JSON line a replay prints for `record`, or None for records it does not print."""
    name = PRINTED.get(type(record))
    if name is None:
        return None
    _, row = records.as_row(record)
    return json.dumps({"type": name, **row}, default=_json_default, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)  # Decimal: exact string
