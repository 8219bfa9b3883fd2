"""Converters of public data formats into journal files (see live/journal/codec.py for the schema).

`convert_to_journal(fmt, input, output, ...)` converts, validates every produced event with the
journal's own parser (so a converted file always replays), and writes atomically.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from live.convert import chainlink, gamma, polymarket_ws, top_of_book
from live.convert.common import ConvertError, Event, write_journal
from live.journal.codec import JournalError, parse_event

FORMATS = ("chainlink", "gamma-markets", "top-of-book", "polymarket-ws")


@dataclass(frozen=True, slots=True)
class ConvertSummary:
    """What a conversion produced: events by kind and recognised messages without a kind."""

    output: Path
    kinds: Counter[str]
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(self.kinds.values())


def convert_events(
    fmt: str,
    source: Path,
    *,
    asset: str = "BTC",
    tz: str = "UTC",
    fee_rate: str | None = None,
) -> tuple[list[Event], Counter[str]]:
    """The journal events of `source` in format `fmt`, ordered by ts, and the skipped counts.
    A file that is not UTF-8 text, a damaged gzip or a CSV the reader cannot split is a
    ConvertError naming the file, like any bad field."""
    source = Path(source)
    if not source.exists():
        raise ConvertError(source, 0, "INPUT", "no such file or directory")
    try:
        return _convert_events(fmt, source, asset=asset, tz=tz, fee_rate=fee_rate)
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1].hex()
        raise ConvertError(source, 0, "(file)", f"not UTF-8 text (byte 0x{byte})") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ConvertError(source, 0, "(file)", f"damaged gzip file ({exc})") from None
    except csv.Error as exc:
        raise ConvertError(source, 0, "(csv)", str(exc)) from None


def _convert_events(
    fmt: str, source: Path, *, asset: str, tz: str, fee_rate: str | None
) -> tuple[list[Event], Counter[str]]:
    if fmt == "chainlink":
        return chainlink.convert(source, asset=asset), Counter()
    if fmt == "gamma-markets":
        return gamma.convert(source, options=gamma.GammaOptions(fee_rate=fee_rate)), Counter()
    if fmt == "top-of-book":
        options = top_of_book.TopOfBookOptions(asset=asset, tz=tz, fee_rate=fee_rate)
        return top_of_book.convert(source, options=options), Counter()
    if fmt == "polymarket-ws":
        result = polymarket_ws.convert(source, fee_rate=fee_rate)
        return result.events, result.skipped
    raise ConvertError(source, 0, "FORMAT", f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def validate_events(events: list[Event], source: Path) -> Counter[str]:
    """Check every event against the journal schema; returns the count per kind."""
    kinds: Counter[str] = Counter()
    for index, event in enumerate(events):
        try:
            parse_event(event)
        except JournalError as exc:
            raise ConvertError(
                source,
                0,
                exc.field,
                f"converted {event.get('kind')} event #{index} is not a "
                f"valid journal line ({exc.reason}); ts={event.get('ts')}",
            ) from None
        kinds[event["kind"]] += 1
    return kinds


def convert_to_journal(
    fmt: str, source: Path, output: Path, **options: str | None
) -> ConvertSummary:
    """Convert `source` to the journal file `output` (gzipped if it ends in .gz), atomically."""
    events, skipped = convert_events(fmt, Path(source), **options)  # type: ignore[arg-type]
    kinds = validate_events(events, Path(source))
    write_journal(events, Path(output))
    return ConvertSummary(Path(output), kinds, skipped)


__all__ = ["FORMATS", "ConvertError", "ConvertSummary", "convert_events", "convert_to_journal"]
