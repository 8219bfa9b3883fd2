"""The sole-trader lock (FM21): a PostgreSQL advisory lock held on a dedicated, never pooled
connection. Whoever holds it may order; everyone else is an observer. Losing the connection
loses the lock, and `check()` says so at once."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psycopg

TRADER_LOCK_KEY = 7_226_021


@dataclass
class LockStatus:
    held: bool
    role: str  # "trader" | "observer"
    error: str | None = None


class SoleTraderLock:
    """Try to become the sole trader; keep checking that the lock's connection is alive."""

    def __init__(self, url: str, instance_id: str) -> None:
        self._url = url
        self.instance_id = instance_id
        self._conn: psycopg.Connection | None = None
        self.held = False
        self.last_error: str | None = None

    def acquire(self) -> bool:
        """Take the lock if free. Never blocks on the lock (an observer calls it again to take
        over, issue 15); a dead connection is replaced first. Blocking IO: call it off the
        event loop."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = psycopg.connect(
                self._url,
                autocommit=True,
                application_name=f"updown-lock-{self.instance_id}",
                connect_timeout=5,
            )
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (TRADER_LOCK_KEY,)).fetchone()
        self.held = bool(row[0])
        return self.held

    def check(self) -> LockStatus:
        """Verify the lock connection is alive and still holds the lock (called every tick)."""
        if not self.held or self._conn is None:
            return LockStatus(False, "observer", self.last_error)
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
                "AND pid = pg_backend_pid() AND granted",
                (TRADER_LOCK_KEY,),
            ).fetchone()
            if row[0] != 1:
                raise RuntimeError("advisory lock no longer held by this connection")
        except Exception as exc:  # noqa: BLE001 - any failure means we no longer hold it
            self.held = False
            self.last_error = f"sole-trader lock lost: {type(exc).__name__}: {exc}"
        return LockStatus(self.held, "trader" if self.held else "observer", self.last_error)

    def backend_pid(self) -> int | None:
        """The server pid of the lock connection (lets drills terminate it)."""
        if self._conn is None or self._conn.closed:
            return None
        return self._conn.info.backend_pid

    def release(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                if self.held:
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (TRADER_LOCK_KEY,))
            except psycopg.Error as exc:  # a dead connection holds nothing: released already
                self.last_error = f"unlock: {type(exc).__name__}: {exc}"
            finally:
                self._conn.close()
        self.held = False


def new_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
