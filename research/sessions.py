"""A recorded PAPER session without the runner: a journal replayed by an engine in PAPER whose
records are stored exactly as the runner stores a session's (backtest_runs kind 'session', run id
`<instance>-primary-<stamp>`, records through the live sink) and whose market events are
journalled into `market_events`. Used to test signal replay (research.parity) and to turn a
recorded journal into a session when no runner recording exists."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from live.journal.reader import read_journal
from live.journal.replay import build_engine
from live.kernel.domain import Mode
from live.store.sink import Sink
from research import store
from research.sources import file_rows


def record_session(
    conn: Any, journals: Sequence[Path], strategies: str = "canary", instance: str = "research"
) -> str:
    """Run the journals through a PAPER engine as a session would; returns the session run id."""
    rows = [r for path in journals for r in file_rows(Path(path), "journal")]
    store.insert_rows(conn, rows)
    store.upsert_windows(conn, rows)
    first = min(r[0] for r in rows)
    run_id = f"{instance}-primary-{first}"
    engine = build_engine(strategies, mode=Mode.PAPER, run_id=run_id)
    sink = Sink(conn, run_id)
    sink.open_run(kind="session", mode=Mode.PAPER, strategy=strategies)
    for event in read_journal(journals):
        engine.process(event)
        if engine.records:
            sink.extend(engine.take_records())
            sink.flush_if_full()
    sink.finish({"source": "research.sessions"}, data_from_ms=first,
                data_to_ms=max(r[0] for r in rows))  # fmt: skip
    return run_id
