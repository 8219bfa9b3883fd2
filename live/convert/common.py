"""What every converter shares: the error type, decimal and time formatting, and the atomic
journal writer (JSON lines, gzipped when the output name ends in `.gz`)."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

Event = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


class ConvertError(ValueError):
    """Bad input, named precisely: file, line (1-based, 0 when the whole file) and field."""

    def __init__(self, path: Path | str, line: int, field: str, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: field {field!r}: {message}")


class FieldError(ValueError):
    """A bad field inside one record; the caller adds the file and line (see ConvertError)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def decimal_str(value: Any, *, scale: int = 0) -> str:
    """A plain decimal string (no exponent, no trailing fractional zeros) of `value`.

    Floats go through their shortest repr so 0.1 stays "0.1"; `scale` shifts the decimal point
    (e.g. -18 for Chainlink's 1e18-scaled integers) exactly.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a decimal: {value!r}")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    if scale:
        number = number.scaleb(scale)
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def iso_ms(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 timestamp with an explicit offset ('Z', '+00', ...)."""
    value = text.strip().replace("Z", "+00:00").replace(" ", "T")
    if value[-3] in "+-" and value[-3:].lstrip("+-").isdigit():
        value += ":00"  # Postgres style "+00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {text!r}")
    return (moment - EPOCH) // ONE_MS


def int_ms(value: Any) -> int:
    """An epoch-milliseconds integer from an int or a digit string."""
    if isinstance(value, bool):
        raise ValueError(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"not an integer: {value!r}")
    return int(text)


def sort_events(events: Iterable[Event]) -> list[Event]:
    """Events ordered by `ts`; stable, so equal timestamps keep their input order."""
    return sorted(events, key=lambda event: event["ts"])


def dumps(event: Event) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def write_journal(events: Iterable[Event], output: Path) -> int:
    """Write `events` as JSON lines to `output` atomically (temp file + rename); returns count.

    Nothing is left at `output` if writing fails, and an existing file is replaced only on
    success. A `.gz` suffix selects gzip (with a fixed mtime so output is reproducible).
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    count = 0
    try:
        with os.fdopen(fd, "wb") as raw:
            if output.name.endswith(".gz"):
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as stream:
                    count = _write_lines(events, stream)
            else:
                count = _write_lines(events, raw)
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, output)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return count


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _write_lines(events: Iterable[Event], stream: Any) -> int:
    count = 0
    for event in events:
        stream.write(dumps(event).encode() + b"\n")
        count += 1
    return count
