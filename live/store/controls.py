"""Reading and writing the `runtime_controls` table. Writes are validated first; the table's
trigger audits each change into `control_changes` (the stated actor and the database role
separately, DELETEs too: migration 004) and NOTIFYs `updown_controls` in the same transaction,
in which `write` also stores each change's sentence (audit.control_sentence, migration 007)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from live.kernel.audit import control_sentence
from live.kernel.controls import Controls, InvalidControl, validate

CHANNEL = "updown_controls"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def read_raw(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM runtime_controls").fetchall())


def read(conn: psycopg.Connection) -> Controls:
    """The current controls; raises InvalidControl if the table holds anything invalid."""
    return Controls.from_mapping(read_raw(conn))


def _storable_name(by: str) -> None:
    """The audit name must be text PostgreSQL stores: no NUL, valid UTF-8 (a command-line
    argument that is not UTF-8 arrives with lone surrogates)."""
    try:
        by.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidControl(f"--by {by!r} rejected: not UTF-8 text") from None
    if "\x00" in by:
        raise InvalidControl(f"--by {by!r} rejected: contains a NUL character")


def write(conn: psycopg.Connection, key: str, value: str, by: str) -> str | None:
    """Set one control (validated) and return its previous value. Commits."""
    validate(key, value)
    _storable_name(by)
    with conn.transaction():
        # The actor the audit trigger records (`changed_by`), for this transaction only.
        conn.execute("SELECT set_config('updown.actor', %s, true)", (by,))
        row = conn.execute(
            "SELECT value FROM runtime_controls WHERE key = %s FOR UPDATE", (key,)
        ).fetchone()
        conn.execute(
            """INSERT INTO runtime_controls (key, value, updated_by, updated_at)
               VALUES (%s, %s, %s, now())
               ON CONFLICT (key) DO UPDATE
               SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by,
                   updated_at = EXCLUDED.updated_at""",
            (key, value, by),
        )
        sentence_changes(conn, key)
    return row[0] if row else None


def sentence_changes(conn: psycopg.Connection, key: str) -> int:
    """Store the sentence of every change of `key` that has none: the one the trigger just
    recorded, and any made by SQL alone since (rendered from each row's own columns). The key's
    row lock, held by the caller's transaction, keeps concurrent writers of the key apart.
    Returns how many rows got their sentence."""
    rows = conn.execute(
        """SELECT id, key, old_value, new_value, changed_by, db_role, operation, changed_at
           FROM control_changes WHERE key = %s AND audit IS NULL ORDER BY id""",
        (key,),
    ).fetchall()
    for row in rows:
        conn.execute(
            "UPDATE control_changes SET audit = %s WHERE id = %s",
            (control_sentence(change_inputs(row[1:])), row[0]),
        )
    return len(rows)


def change_inputs(columns: tuple) -> dict[str, object]:
    """A control change's sentence inputs from (key, old_value, new_value, changed_by, db_role,
    operation, changed_at)."""
    key, old, new, by, role, operation, at = columns
    ts = (at - _EPOCH) // timedelta(milliseconds=1) if isinstance(at, datetime) else None
    return {
        "key": key,
        "old_value": old,
        "new_value": new,
        "changed_by": by,
        "db_role": role,
        "operation": operation,
        "ts": ts,
    }
