"""The Parquet cache of market rows under `$UPDOWN_HOME/cache` (research.data, research.store).

Keys name what the rows came from: a file by path, size and mtime; a DB range by its bounds and
the table's row count and last id, so new imports invalidate it. A file holds event rows
`(ts, recv_ts, source, event)` in typed columns (research.cache_columns: every field of every
market kind in its own Arrow column, no JSON), so a hit rebuilds the events without parsing a
line. The format's version is in the key and in the file's metadata: a file of another version
is never read, it is rebuilt. The cache is size-capped: after each write the least recently used
files (a read counts as a use) go until the total is at most `$UPDOWN_CACHE_MAX_MB` (default
2048; MB = 2^20 bytes; 0 keeps nothing); `updown cache prune [--max-mb N] [--dry-run]` does it by
hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from live.journal.codec import parse_event
from live.store.db import updown_home
from research.cache_columns import EventRow, from_table, to_table
from research.sources import RawRow

VERSION = "3"  # 2: kind column, payload as orjson bytes; 3: typed columns per kind, no JSON
VERSION_KEY = b"updown.cache.version"
DEFAULT_MAX_MB = 2048
MB = 1024 * 1024

__all__ = ["MB", "CacheFile", "EventRow", "Pruned", "cache_dir", "file_key", "files", "key_of",
           "max_bytes", "mb_to_bytes", "parsed", "prune", "read", "write"]  # fmt: skip


def cache_dir() -> Path:
    path = updown_home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def key_of(*parts: object) -> str:
    text = json.dumps([VERSION, *[str(p) for p in parts]])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def file_key(path: Path) -> str:
    stat = path.stat()
    return key_of("file", path.resolve(), stat.st_size, stat.st_mtime_ns)


def parsed(rows: Iterable[RawRow]) -> list[EventRow]:
    """Raw rows with each payload (a journal object) built into its event."""
    return [(ts, recv, source, parse_event(payload)) for ts, recv, source, payload in rows]


def read(key: str) -> list[EventRow] | None:
    """The cached rows, or None on a miss: no file, another format version, or a file that
    cannot be read (the caller rebuilds it)."""
    path = cache_dir() / f"{key}.parquet"
    try:
        table = pq.read_table(path)
    except (FileNotFoundError, pa.ArrowException, OSError):
        return None
    if (table.schema.metadata or {}).get(VERSION_KEY) != VERSION.encode():
        return None
    with contextlib.suppress(FileNotFoundError):  # pruned by another process meanwhile
        os.utime(path)  # last use, for pruning
    return from_table(table)


def write(key: str, rows: Sequence[EventRow]) -> Path:
    """Write atomically (temp file + rename), so readers never see half a file; then prune
    the cache to its cap."""
    limit = max_bytes()  # a bad $UPDOWN_CACHE_MAX_MB fails before anything is written
    path = cache_dir() / f"{key}.parquet"
    table = to_table(rows)
    table = table.replace_schema_metadata({VERSION_KEY: VERSION.encode()})
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    prune(limit, keep=path)
    return path


def max_bytes() -> int:
    """The cap: `$UPDOWN_CACHE_MAX_MB` megabytes (default 2048); ValueError naming the value
    unless it is a number >= 0."""
    text = os.environ.get("UPDOWN_CACHE_MAX_MB", str(DEFAULT_MAX_MB))
    try:
        return mb_to_bytes(text)
    except ValueError as exc:
        raise ValueError(f"UPDOWN_CACHE_MAX_MB={text!r}: {exc}") from None


def mb_to_bytes(text: str | float) -> int:
    """Megabytes (a finite number >= 0) as bytes; ValueError otherwise."""
    try:
        mb = float(text)
    except ValueError:
        raise ValueError("not a number of megabytes") from None
    if not math.isfinite(mb) or mb < 0:
        raise ValueError("must be a finite number of megabytes >= 0")
    return int(min(mb * MB, sys.maxsize))  # beyond 2^63 bytes is no cap at all


@dataclass(frozen=True, slots=True)
class CacheFile:
    """One cache file: its path, size in bytes and last use (epoch s)."""

    path: Path
    size: int
    used: float


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune did (or, dry, would do): the files removed, oldest use first, and what is
    left."""

    removed: tuple[CacheFile, ...]
    kept: int
    size: int

    @property
    def freed(self) -> int:
        return sum(f.size for f in self.removed)


def files() -> list[CacheFile]:
    """The cache's files, least recently used first."""
    found = []
    for path in cache_dir().glob("*.parquet"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # another process pruned it
            continue
        found.append(CacheFile(path, stat.st_size, stat.st_mtime))
    return sorted(found, key=lambda f: (f.used, f.path.name))


def prune(limit: int, keep: Path | None = None, *, dry_run: bool = False) -> Pruned:
    """Delete the least recently used cache files until the total is at most `limit` bytes
    (`keep`, the file just written, goes last); `dry_run` only says which would go."""
    found = sorted(files(), key=lambda f: f.path == keep)  # stable: LRU order otherwise
    size = sum(f.size for f in found)
    removed = []
    for f in found:
        if size <= limit:
            break
        if not dry_run:
            f.path.unlink(missing_ok=True)
        size -= f.size
        removed.append(f)
    return Pruned(tuple(removed), len(found) - len(removed), size)
