"""Raw market-data rows from files (journals and the public formats) and their source names.

A raw row is `(ts, recv_ts, source, payload)` where `payload` is the journal object (live/journal)
of one market event. Files are journals (`*.jsonl[.gz]` whose lines have `kind`) or public formats
converted by live.convert, detected from the name or given with `fmt`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from live.convert import FORMATS, convert_events, validate_events

RawRow = tuple[int, int | None, str, dict[str, Any]]

# Market kinds a backtest replays; venue-result kinds in a journal are someone's session output.
MARKET_KINDS = ("window", "book", "book_delta", "trade", "oracle", "resolved", "control", "signal")
CLOB_KINDS = frozenset({"book", "book_delta", "trade"})
# The top-of-book file states no fee rate; 0.07 is the crypto taker rate of the Gamma day.
DEFAULT_FEE_RATE = "0.07"


def source_of(payload: dict[str, Any]) -> str:
    """The feed an event came from: the oracle's own name, `clob` for books and trades, `gamma`
    for windows and resolutions (the names latency offsets and gap reports use)."""
    kind = payload.get("kind")
    if kind == "oracle":
        return str(payload.get("source") or "chainlink")
    if kind in CLOB_KINDS:
        return "clob"
    if kind in ("window", "resolved"):
        return "gamma"
    return str(kind)


def detect_format(path: Path) -> str:
    """`journal` or one of live.convert.FORMATS, from the file name (and a journal's first line)."""
    name = path.name.lower()
    if path.is_dir() or "polymarket" in name or name.startswith("ws"):
        return "polymarket-ws"
    if "chainlink" in name:
        return "chainlink"
    if "gamma" in name:
        return "gamma-markets"
    if "top_of_book" in name or "top-of-book" in name:
        return "top-of-book"
    if ".jsonl" in name or name.endswith(".json") or ".ndjson" in name:
        return "journal"
    raise ValueError(
        f"{path}: cannot tell the format from the name; pass one of journal, {', '.join(FORMATS)}"
    )


def file_rows(path: Path, fmt: str | None = None, *, asset: str = "BTC") -> list[RawRow]:
    """The raw market rows of one file, validated against the journal schema."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "journal":
        return list(_journal_rows(path))
    fee = DEFAULT_FEE_RATE if fmt == "top-of-book" else None
    events, _ = convert_events(fmt, path, asset=asset, fee_rate=fee)
    validate_events(events, path)
    return [raw_row(e) for e in events if e["kind"] in MARKET_KINDS]


def _journal_rows(path: Path) -> Iterator[RawRow]:
    for _, payload in journal_payloads(path):
        if payload["kind"] in MARKET_KINDS:
            yield raw_row(payload)


def journal_payloads(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(line number, journal object)` of every line of a journal file (plain or .gz), each
    validated by the journal's parser; blank and `#` lines skipped. Raises JournalError naming the
    file and line (bad JSON, bad field, bytes that are not UTF-8, a damaged gzip stream)."""
    from live.journal.codec import JournalError, parse_event

    opener = gzip.open if path.name.endswith(".gz") else open
    lineno = 0
    try:
        with opener(path, "rt", encoding="utf-8") as stream:
            for lineno, text in enumerate(stream, start=1):
                if not text.strip() or text.lstrip().startswith("#"):
                    continue
                try:
                    payload = json.loads(text)
                except ValueError as exc:
                    raise JournalError(f"not valid JSON ({exc})", lineno, "", str(path)) from None
                except RecursionError:
                    raise JournalError("nested too deeply", lineno, "", str(path)) from None
                parse_event(payload, lineno, str(path))  # raises JournalError naming the line
                yield lineno, payload
    except UnicodeDecodeError as exc:
        line = _undecodable_line(path, opener)
        raise JournalError(f"not UTF-8 text ({exc.reason})", line, "", str(path)) from None
    except (OSError, EOFError) as exc:  # unreadable, a directory, or a damaged gzip stream
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise JournalError(f"cannot read the file: {reason}", lineno + 1, "", str(path)) from None


def raw_row(payload: dict[str, Any]) -> RawRow:
    """The raw row of one journal object: `(ts, recv_ts or None, source, payload)`."""
    recv = payload.get("recv_ts")
    return payload["ts"], recv if isinstance(recv, int) else None, source_of(payload), payload


def _undecodable_line(path: Path, opener: Any) -> int:
    """The first line of the file that is not UTF-8 (the text reader decodes ahead in chunks)."""
    with opener(path, "rb") as stream:
        for lineno, raw in enumerate(stream, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return lineno
    return 1
