"""The Parquet cache of raw market rows under `$UPDOWN_HOME/cache` (research.data).

Keys name what the rows came from: a file by path, size and mtime; a DB range by its bounds and
the table's row count and last id, so new imports invalidate it. Rows are stored as typed
columns ts, recv_ts (int64 epoch ms), source and kind (dictionary-encoded strings) plus the
payload as JSON bytes (orjson: payloads differ by kind, so they stay one column). The cache is
size-capped: after each write the least recently used files go until the total is under
`$UPDOWN_CACHE_MAX_MB` (default 2048 MB); `updown cache prune [--max-mb N]` does it by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from live.store.db import updown_home
from research.sources import RawRow

VERSION = "2"  # 2: kind column, payload as orjson bytes
DEFAULT_MAX_MB = 2048


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


def read(key: str) -> list[RawRow] | None:
    path = cache_dir() / f"{key}.parquet"
    if not path.exists():
        return None
    table = pq.read_table(path, columns=["ts", "recv_ts", "source", "payload"])
    os.utime(path)  # last use, for pruning
    ts, recv, src, payload = (table.column(n).to_pylist() for n in table.column_names)
    loads = orjson.loads
    return [(t, r, s, loads(p)) for t, r, s, p in zip(ts, recv, src, payload, strict=True)]


def write(key: str, rows: list[RawRow]) -> Path:
    """Write atomically (temp file + rename), so readers never see half a file."""
    path = cache_dir() / f"{key}.parquet"
    table = pa.table(
        {
            "ts": pa.array([r[0] for r in rows], pa.int64()),
            "recv_ts": pa.array([r[1] for r in rows], pa.int64()),
            "source": pa.array([r[2] for r in rows], pa.string()).dictionary_encode(),
            "kind": pa.array([r[3].get("kind") for r in rows], pa.string()).dictionary_encode(),
            "payload": pa.array([orjson.dumps(r[3]) for r in rows], pa.binary()),
        }
    )
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    prune(max_bytes(), keep=path)
    return path


def max_bytes() -> int:
    """The cap: `$UPDOWN_CACHE_MAX_MB` megabytes (default 2048); ValueError if not a number."""
    text = os.environ.get("UPDOWN_CACHE_MAX_MB", str(DEFAULT_MAX_MB))
    try:
        mb = float(text)
    except ValueError:
        raise ValueError(f"UPDOWN_CACHE_MAX_MB={text!r}: not a number of megabytes") from None
    return int(mb * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune did: files removed and bytes freed; files and bytes left."""

    removed: int
    freed: int
    kept: int
    size: int


def prune(limit: int, keep: Path | None = None) -> Pruned:
    """Delete the least recently used cache files until the total is at most `limit` bytes
    (`keep`, the file just written, goes last)."""
    files = []
    for path in cache_dir().glob("*.parquet"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # another process pruned it
            continue
        files.append((path == keep, stat.st_mtime, stat.st_size, path))
    files.sort()
    size = sum(f[2] for f in files)
    removed = freed = 0
    for _, _, nbytes, path in files:
        if size <= limit:
            break
        path.unlink(missing_ok=True)
        size, removed, freed = size - nbytes, removed + 1, freed + nbytes
    return Pruned(removed, freed, len(files) - removed, size)
