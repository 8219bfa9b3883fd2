"""The `instances` table: who is running, in which role, and whether it holds the trader lock."""

from __future__ import annotations

import json
import os
import socket

from psycopg_pool import ConnectionPool


def register(
    pool: ConnectionPool, instance_id: str, role: str, mode: str, venue: str, health_url: str
) -> None:
    with pool.connection() as conn:
        conn.execute(
            """INSERT INTO instances (instance_id, host, pid, role, mode, venue, health_url,
                                      lock_held, started_at, last_seen)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now(), now())
               ON CONFLICT (instance_id) DO UPDATE SET role = EXCLUDED.role,
                   mode = EXCLUDED.mode, venue = EXCLUDED.venue,
                   health_url = EXCLUDED.health_url, lock_held = EXCLUDED.lock_held,
                   started_at = now(), last_seen = now()""",
            (
                instance_id,
                socket.gethostname(),
                os.getpid(),
                role,
                mode,
                venue,
                health_url,
                role == "trader",
            ),
        )


def heartbeat(pool: ConnectionPool, instance_id: str, role: str, health: dict) -> None:
    with pool.connection() as conn:
        conn.execute(
            """UPDATE instances SET role = %s, lock_held = %s, last_seen = now(), health = %s
               WHERE instance_id = %s""",
            (role, role == "trader", json.dumps(health, default=str), instance_id),
        )


def mark_stopped(pool: ConnectionPool, instance_id: str) -> None:
    with pool.connection() as conn:
        conn.execute(
            "UPDATE instances SET role = 'stopped', lock_held = false, last_seen = now() "
            "WHERE instance_id = %s",
            (instance_id,),
        )
