"""Staging an import: every file read and every row checked before anything is written.

`updown data import A B C` is all or nothing. Each file is read completely (journal lines
validated by the journal's parser, public formats converted and validated), and each row is
checked for what the database would refuse although the journal allows it (a NUL character or a
lone surrogate in a string, NaN, an out-of-range `recv_ts`, a window length the `windows` table
cannot hold). The first problem raises ImportRefused naming the file and the line (journals) or
the converted event (public formats); only then does research.store write, in one transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from live.convert import convert_events, validate_events
from live.journal.field import MAX_EPOCH_MS
from research.sources import (
    DEFAULT_FEE_RATE,
    MARKET_KINDS,
    RawRow,
    detect_format,
    journal_payloads,
    raw_row,
)

MIN_EPOCH_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z, the first instant a datetime holds
MAX_INT4 = 2**31 - 1  # windows.length_s is an integer
NUMERIC_COLUMNS = ("tick_size", "min_size", "fee_rate", "strike")  # windows' numeric columns
NUMERIC_DIGITS, NUMERIC_SCALE = 131_072, 16_383  # PostgreSQL numeric: digits before / after "."
# In JSON text (ASCII-escaped): a NUL, or a UTF-16 surrogate that may be unpaired.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class ImportRefused(ValueError):
    """A file that cannot be imported; the message names the file and the line or event."""


@dataclass(frozen=True, slots=True)
class StagedFile:
    """One file read and checked: its format and its market rows, ready to write."""

    path: Path
    fmt: str
    rows: list[RawRow]


def stage_files(paths: list[Path], fmt: str | None = None) -> list[StagedFile]:
    """Read and check every file; raises ImportRefused (or the journal's / converters' own
    JournalError / ConvertError, which name file and line) at the first problem."""
    return [stage_file(Path(path), fmt) for path in paths]


def stage_file(path: Path, fmt: str | None = None) -> StagedFile:
    """One file read and checked; see the module docstring."""
    if not path.exists():
        raise ImportRefused(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    if fmt == "journal":
        rows = [_checked(p, f"{path}:line {n}") for n, p in journal_payloads(path)]
    else:
        rows = [_checked(e, f"{path}: converted event #{i}") for i, e in _converted(path, fmt)]
    return StagedFile(path, fmt, [row for row in rows if row is not None])


def _converted(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    fee = DEFAULT_FEE_RATE if fmt == "top-of-book" else None
    events, _ = convert_events(fmt, path, fee_rate=fee)
    validate_events(events, path)
    yield from enumerate(events)


def _checked(payload: dict[str, Any], where: str) -> RawRow | None:
    """The payload's raw row if it is a market row the database will take; None if it is not a
    market row; ImportRefused (prefixed with `where`, the file and line) if it would refuse it."""
    if payload["kind"] not in MARKET_KINDS:
        return None
    problem = _unstorable(payload)
    if problem is not None:
        raise ImportRefused(f"{where}{problem}")
    return raw_row(payload)


def _unstorable(payload: dict[str, Any]) -> str | None:
    """Why PostgreSQL would refuse this journal object (`[ field 'x']: reason`), or None."""
    try:
        text = json.dumps(payload, allow_nan=False)
    except ValueError:
        return ": a number is NaN or infinite, which JSON cannot store"
    except RecursionError:
        return ": values are nested too deeply to store"
    if _SUSPECT_ESCAPE.search(text) and _bad_string(payload):
        return ": a string holds a NUL character or an unpaired surrogate, which cannot be stored"
    recv = payload.get("recv_ts")
    if isinstance(recv, int) and not MIN_EPOCH_MS <= recv <= MAX_EPOCH_MS:
        return f" field 'recv_ts': must be epoch ms within years 1-9999, got {recv}"
    return _unstorable_window(payload) if payload["kind"] == "window" else None


def _unstorable_window(payload: dict[str, Any]) -> str | None:
    """What the `windows` table would refuse: its integer length, its numeric columns."""
    length = payload["length_s"]
    if not 0 < length <= MAX_INT4:
        return f" field 'length_s': must be 1 to {MAX_INT4} seconds, got {length}"
    for key in NUMERIC_COLUMNS:
        if payload.get(key) is None:
            continue
        value = Decimal(payload[key])  # a decimal string: the journal's parser checked it
        if value and (
            value.adjusted() >= NUMERIC_DIGITS or value.as_tuple().exponent < -NUMERIC_SCALE
        ):
            return f" field {key!r}: {payload[key]} is too large or too precise to store"
    return None


def _bad_string(value: Any) -> bool:
    """True if a string anywhere in `value` (keys included) has a NUL or cannot be UTF-8."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_bad_string(k) or _bad_string(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad_string(v) for v in value)
    return False
