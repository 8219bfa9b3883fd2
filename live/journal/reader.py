"""Reading journal files: plain or gzipped JSON lines, one or more files merged by `ts`.

Lines are parsed by live.journal.codec; a bad line raises JournalError naming the file, the line
and the field (or, with `skip_invalid`, is counted and skipped).
"""

from __future__ import annotations

import gzip
import heapq
from collections.abc import Iterable, Iterator
from pathlib import Path

from live.journal.codec import parse_line
from live.journal.field import JournalError
from live.kernel.events import Event

__all__ = ["JournalReader", "read_journal"]


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


class JournalReader:
    """Events of one or more journal files merged by `ts` (stable: equal ts keep file order, then
    line order). Each file must be in ts order. With skip_invalid, bad lines are counted in
    `skipped` (first 100 messages in `errors`) instead of raising."""

    def __init__(self, paths: Iterable[str | Path], skip_invalid: bool = False) -> None:
        self.paths = [Path(p) for p in paths]
        self.skip_invalid = skip_invalid
        self.skipped = 0
        self.errors: list[str] = []

    def _file_events(self, path: Path) -> Iterator[Event]:
        last_ts = -1
        with _open(path) as handle:
            for lineno, text in enumerate(handle, start=1):
                if not text.strip() or text.lstrip().startswith("#"):
                    continue
                try:
                    event = parse_line(text, lineno, str(path))
                    if event.ts < last_ts:
                        raise JournalError(
                            f"ts {event.ts} is before the previous line's {last_ts} "
                            "(a journal file must be in ts order)",
                            lineno,
                            "ts",
                            str(path),
                        )
                except JournalError as exc:
                    if not self.skip_invalid:
                        raise
                    self.skipped += 1
                    if len(self.errors) < 100:
                        self.errors.append(str(exc))
                    continue
                last_ts = event.ts
                yield event

    def __iter__(self) -> Iterator[Event]:
        streams = [self._file_events(p) for p in self.paths]
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=_event_ts)


def _event_ts(event: Event) -> int:
    return event.ts


def read_journal(paths: Iterable[str | Path], skip_invalid: bool = False) -> JournalReader:
    """Iterate the events of journal files merged by ts; see JournalReader."""
    return JournalReader(paths, skip_invalid)
