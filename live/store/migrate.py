"""Numbered plain-SQL migrations, one transaction each, checksum-guarded, advisory-locked."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

MIGRATION_LOCK_KEY = 7_226_001  # advisory lock id serialising concurrent migrators
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """An applied migration changed, or the migration files are malformed."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """The migration files shipped in live/store/migrations, in order."""
    found = []
    for entry in resources.files("live.store").joinpath("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m[1]), m[2], entry.read_text()))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers: {versions}")
    return found


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def applied(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) of the migrations recorded in the database."""
    rows = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not rows[0]:
        return {}
    return {
        v: (n, c)
        for v, n, c in conn.execute("SELECT version, name, checksum FROM schema_migrations")
    }


def migrate(url: str) -> list[Migration]:
    """Apply every pending migration; return those applied. Idempotent and safe to run at once
    from several processes. A changed, already-applied migration is an error."""
    done: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            _ensure_table(conn)
            recorded = applied(conn)
            for mig in available():
                if mig.version in recorded:
                    name, checksum = recorded[mig.version]
                    if checksum != mig.checksum:
                        raise MigrationError(
                            f"migration {mig.version:03d}_{name} was changed after it was applied "
                            f"(recorded checksum {checksum[:12]}, file {mig.checksum[:12]}); "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(mig.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
                done.append(mig)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return done


def status(url: str) -> list[tuple[Migration, str]]:
    """Each known migration with its state: applied, pending or CHANGED."""
    with psycopg.connect(url) as conn:
        recorded = applied(conn)
    out = []
    for mig in available():
        if mig.version not in recorded:
            out.append((mig, "pending"))
        elif recorded[mig.version][1] != mig.checksum:
            out.append((mig, "CHANGED"))
        else:
            out.append((mig, "applied"))
    return out
