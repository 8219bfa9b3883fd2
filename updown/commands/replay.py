"""`updown replay FILE...`: journal files through the engine, one JSON line per record."""

from __future__ import annotations

import contextlib
import sys
import uuid
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

import typer

from live.journal.codec import JournalError
from live.journal.replay import DEFAULT_STRATEGIES, build_engine, record_line, replay
from live.kernel.domain import Mode
from strategies import UnknownStrategy
from updown.commands._common import fail


class ReplayMode(StrEnum):
    PAPER = "PAPER"
    DRY_RUN = "DRY_RUN"
    BACKTEST = "BACKTEST"


def replay_cmd(
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="Journal files (.gz ok)."),
    strategies: str = typer.Option(
        DEFAULT_STRATEGIES,
        metavar="NAMES",
        help="Comma list of strategy names or aliases ('*' = all).",
    ),
    mode: ReplayMode = typer.Option(
        ReplayMode.BACKTEST, metavar="[PAPER|DRY_RUN|BACKTEST]", help="Engine mode."
    ),
    balance: str = typer.Option("100", metavar="USD", help="Starting balance in USD."),
    out: Path = typer.Option(
        None, metavar="FILE", help="Write the record lines here instead of stdout."
    ),
    skip_invalid: bool = typer.Option(False, help="Count and skip invalid journal lines."),
    use_db: bool = typer.Option(False, "--db/--no-db", help="Also write the records to the DB."),
    run_id: str = typer.Option(
        None, metavar="ID", help="Run id (default: 'replay', or a fresh one with --db)."
    ),
) -> None:
    """Replay journal files through the engine; prints decisions, orders, fills, position
    transitions and settlements, then `settlements: agree=N disagree=N uncertain=N`."""
    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
    try:
        start = Decimal(balance)
    except InvalidOperation:
        fail(f"--balance {balance!r}: not a decimal")
    run = run_id or (f"replay-{uuid.uuid4().hex[:12]}" if use_db else "replay")
    try:
        engine = build_engine(strategies, mode=Mode(mode.value), balance=start, run_id=run)
    except (UnknownStrategy, ValueError) as exc:
        fail(str(exc).strip("'\""))
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(out.open("w")) if out else sys.stdout
        sink = _open_sink(stack, run, mode, strategies) if use_db else None
        result = _run(files, engine, stream, sink, skip_invalid)
        if sink is not None:
            summary = {"events": result.events, "settlements": dict(result.settlements)}
            sink.finish(summary, data_from_ms=result.first_ts, data_to_ms=result.last_ts)
    if result.skipped:
        typer.echo(f"skipped {result.skipped} invalid lines; first: {result.skipped_errors[0]}")
    typer.echo(result.summary_line())


def _run(files, engine, stream: TextIO, sink: Any, skip_invalid: bool):
    def on_records(batch: list[Any]) -> None:
        for record in batch:
            line = record_line(record)
            if line is not None:
                stream.write(line + "\n")
        if sink is not None:
            sink.extend(batch)
            sink.flush_if_full()

    try:
        return replay(files, engine, on_records=on_records, skip_invalid=skip_invalid)
    except JournalError as exc:
        stream.flush()
        fail(f"invalid journal line, stopped before it: {exc}")


def _open_sink(stack: contextlib.ExitStack, run_id: str, mode: ReplayMode, strategies: str):
    from live.store import db
    from live.store.sink import Sink

    conn = stack.enter_context(db.connect())
    sink = Sink(conn, run_id)
    sink.open_run(kind="replay", mode=mode.value, strategy=strategies, fill_model="book-walk")
    return sink


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_cmd)
