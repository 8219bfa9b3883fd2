"""Is a strategy promoted? The runner's answer to "may this strategy trade LIVE" (DESIGN §9).

A promotion is a `promotions` row written by the gate (`updown promote`), bound to the sha256 of
the strategy's pre-registration file. It is valid while it is not revoked and the file on disk
still hashes to the promoted value: editing the file voids it, with no DB write needed. The newest
unrevoked promotion for (strategy, target) is the one that counts.

Also `disable_strategy`, the action taken when a kill criterion is hit: remove the strategy from
`allowed_strategies` (through the audited controls table) and revoke its promotions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from live.store import controls

PREREG_DIR = "preregistrations"
NO_STRATEGY = "none"  # allowed_strategies cannot be empty; this reserved name matches nothing


@dataclass(frozen=True, slots=True)
class PromotionStatus:
    """The verdict for one strategy and target, with the reason in words."""

    strategy: str
    target: str
    valid: bool
    reason: str
    promotion_id: int | None = None
    promoted_at: datetime | None = None
    file_path: str | None = None
    git_commit: str | None = None
    promoted_sha256: str | None = None
    current_sha256: str | None = None


def prereg_path(repo_root: Path, strategy: str) -> Path:
    """Where a strategy's pre-registration lives: `<repo>/preregistrations/<strategy>.yaml`."""
    return Path(repo_root) / PREREG_DIR / f"{strategy}.yaml"


def file_sha256(path: Path) -> str | None:
    """Hex sha256 of the file's bytes, or None if it does not exist."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


_COLUMNS = (
    "id, ts, strategy, target, file_path, file_sha256, git_commit, revoked_at, revoked_reason"
)


def _status_of_row(row: tuple, repo_root: Path) -> PromotionStatus:
    pid, ts, strategy, target, rel, sha, commit, revoked_at, revoked_reason = row
    current = file_sha256(Path(repo_root) / rel)
    if revoked_at is not None:
        valid, reason = False, f"revoked at {revoked_at.isoformat()}: {revoked_reason}"
    elif current is None:
        valid, reason = False, f"void: {rel} is missing"
    elif current != sha:
        valid, reason = False, f"void: {rel} was edited after promotion"
    else:
        valid, reason = True, "valid"
    return PromotionStatus(strategy, target, valid, reason, pid, ts, rel, commit, sha, current)


def promotion_status(
    conn: psycopg.Connection, strategy: str, repo_root: Path, target: str = "live"
) -> PromotionStatus:
    """The status of the newest unrevoked promotion of `strategy` to `target` ('live' or 'paper').
    Invalid if there is none, or its pre-registration file is missing or changed."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM promotions WHERE strategy = %s AND target = %s "
        "AND revoked_at IS NULL ORDER BY ts DESC, id DESC LIMIT 1",
        (strategy, target),
    ).fetchone()
    if row is None:
        return PromotionStatus(strategy, target, False, f"no {target} promotion")
    return _status_of_row(row, repo_root)


def has_valid_promotion(
    conn: psycopg.Connection, strategy: str, repo_root: Path, target: str = "live"
) -> bool:
    """True only if `strategy` holds a valid `target` promotion; the runner denies LIVE entries
    (NOT_PROMOTED) otherwise. Reads one row and hashes one small file."""
    return promotion_status(conn, strategy, repo_root, target).valid


def list_promotions(conn: psycopg.Connection, repo_root: Path) -> list[PromotionStatus]:
    """Every promotion ever recorded, newest first, each with its current validity."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM promotions ORDER BY ts DESC, id DESC").fetchall()
    return [_status_of_row(row, repo_root) for row in rows]


def revoke(conn: psycopg.Connection, strategy: str, reason: str) -> int:
    """Revoke every unrevoked promotion of `strategy`; returns how many. Does not commit."""
    cur = conn.execute(
        "UPDATE promotions SET revoked_at = now(), revoked_reason = %s "
        "WHERE strategy = %s AND revoked_at IS NULL",
        (reason, strategy),
    )
    return cur.rowcount


def without_strategy(allowed: str, names: Iterable[str], known: Iterable[str]) -> str:
    """The `allowed_strategies` value with every one of `names` (a strategy and its aliases)
    removed. '*' is expanded to `known` first; an empty result becomes the reserved name 'none'
    (the control cannot be empty)."""
    remaining = set(known) if allowed == "*" else set(allowed.split(","))
    remaining -= set(names)
    return ",".join(sorted(remaining)) or NO_STRATEGY


def disable_strategy(
    conn: psycopg.Connection,
    strategy: str,
    reason: str,
    by: str,
    aliases: Iterable[str] = (),
    known_strategies: Iterable[str] = (),
) -> str:
    """Stop a strategy whose kill criterion was hit: revoke its promotions and remove it (and its
    aliases) from `allowed_strategies`, audited by the controls trigger. `known_strategies` is
    what '*' expands to. Commits; returns the new value. Raising the alert is the caller's job."""
    names = (strategy, *aliases)
    with conn.transaction():
        current = conn.execute(
            "SELECT value FROM runtime_controls WHERE key = 'allowed_strategies' FOR UPDATE"
        ).fetchone()
        value = without_strategy(current[0] if current else "*", names, known_strategies)
        for name in names:
            revoke(conn, name, reason)
        controls.write(conn, "allowed_strategies", value, by)
    return value
