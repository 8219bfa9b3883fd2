"""The Parquet cache of raw market rows under `$UPDOWN_HOME/cache` (research.data).

Keys name what the rows came from: a file by path, size and mtime; a DB range by its bounds and
the table's row count and last id, so new imports invalidate it. Rows are stored as
(ts, recv_ts, source, payload-as-JSON) columns.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from live.store.db import updown_home
from research.sources import RawRow

VERSION = "1"


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
    table = pq.read_table(path)
    cols = [table.column(n).to_pylist() for n in ("ts", "recv_ts", "source", "payload")]
    return [(ts, recv, src, json.loads(p)) for ts, recv, src, p in zip(*cols, strict=True)]


def write(key: str, rows: list[RawRow]) -> Path:
    """Write atomically (temp file + rename), so readers never see half a file."""
    path = cache_dir() / f"{key}.parquet"
    table = pa.table(
        {
            "ts": pa.array([r[0] for r in rows], pa.int64()),
            "recv_ts": pa.array([r[1] for r in rows], pa.int64()),
            "source": pa.array([r[2] for r in rows], pa.string()),
            "payload": pa.array([json.dumps(r[3], separators=(",", ":")) for r in rows]),
        }
    )
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path
