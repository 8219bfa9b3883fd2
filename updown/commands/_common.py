"""Helpers shared by the CLI commands."""

from __future__ import annotations

import getpass
import sys
from enum import StrEnum
from typing import NoReturn

import typer


class FillModel(StrEnum):
    """Backtest fill models (research.fills.FILL_MODELS; a test keeps the two in step)."""

    BOOK = "book"  # walk the recorded L2 book
    CONSERVATIVE = "conservative"  # the whole order at 1 % worse than the mid


FILL_MODEL_HELP = "book: walk the recorded L2 book; conservative: 1 % worse than the mid."


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit (2 = bad input, by convention)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def day_range_of(start: str, end: str | None) -> tuple[int, int]:
    """`--from` / `--to` (days YYYY-MM-DD, inclusive, or ISO times) as [lo, hi) epoch ms; a
    malformed or reversed range exits 2 naming the flag."""
    from research.data import day_range

    try:
        lo, _ = day_range(start)
    except ValueError:
        fail(f"--from {start!r}: not a day (YYYY-MM-DD) or an ISO time")
    try:
        _, hi = day_range(end or start)
    except ValueError:
        fail(f"--to {end!r}: not a day (YYYY-MM-DD) or an ISO time")
    if hi <= lo:
        fail(f"--from {start!r} --to {end or start!r}: an empty range (--to is before --from)")
    return lo, hi


def no_windows(start: str | None, end: str | None, data: list | None) -> NoReturn:
    """Exit 2: the range (or the --data files) holds no market window to work on."""
    where = f"--data {' '.join(map(str, data))}" if data else "the database"
    span = f" from {start} to {end or start}" if start else ""
    hint = "" if data else " (import some with `updown data import`, or pass --data FILE)"
    fail(f"no market windows in {where}{span}{hint}")


def operator_name() -> str:
    """Who is acting, for audit rows (the OS user unless --by says otherwise)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
