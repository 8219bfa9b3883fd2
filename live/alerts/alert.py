"""What an alert is: its kind, its severity (each kind's default), the `Alert` value with the
message the channels send, and the key identical alerts are de-duplicated on.

Pure values; imports only the standard library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    """What an alert is about; stored in `alerts.kind`."""

    BREAKER_TRIPPED = "breaker_tripped"
    ASSERTION_FAILED = "assertion_failed"
    DRAWDOWN = "drawdown"
    POSITION_UNKNOWN = "position_unknown"
    RECONCILIATION_MISMATCH = "reconciliation_mismatch"
    LOCK_LOST = "lock_lost"
    FEED_STALE = "feed_stale"
    KILL_CRITERION_HIT = "kill_criterion_hit"
    KILL_SWITCH_USED = "kill_switch_used"
    DB_POOL_HIGH = "db_pool_high"
    QUERY_TIMEOUT = "query_timeout"
    HEALTH_DOWN = "health_down"
    DAILY_SUMMARY = "daily_summary"
    ALERTS_DROPPED = "alerts_dropped"  # raised by the Alerter itself when its queue overflowed
    EXIT_BLOCKED = "exit_blocked"  # an exit the venue would refuse (under $1): held instead
    FILL_FAILED = "fill_failed"  # a matched trade ended FAILED at the venue: the fill reversed
    REDEMPTION = "redemption"  # a redemption failed (retried) or is not complete within its bound
    VENUE_NOT_READY = "venue_not_ready"  # the matching engine restarts (425): entries paused
    CLOCK_SKEW = "clock_skew"  # our clock is off the venue's: L2 requests signed on the venue's


class Severity(StrEnum):
    """How urgent an alert is; stored in `alerts.severity` and shown first in the message."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


DEFAULT_SEVERITY: dict[AlertKind, Severity] = {
    AlertKind.BREAKER_TRIPPED: Severity.CRITICAL,
    AlertKind.ASSERTION_FAILED: Severity.CRITICAL,
    AlertKind.DRAWDOWN: Severity.CRITICAL,
    AlertKind.POSITION_UNKNOWN: Severity.CRITICAL,
    AlertKind.RECONCILIATION_MISMATCH: Severity.CRITICAL,
    AlertKind.LOCK_LOST: Severity.CRITICAL,
    AlertKind.FEED_STALE: Severity.WARNING,
    AlertKind.KILL_CRITERION_HIT: Severity.CRITICAL,
    AlertKind.KILL_SWITCH_USED: Severity.WARNING,
    AlertKind.DB_POOL_HIGH: Severity.WARNING,
    AlertKind.QUERY_TIMEOUT: Severity.WARNING,
    AlertKind.HEALTH_DOWN: Severity.CRITICAL,
    AlertKind.DAILY_SUMMARY: Severity.INFO,
    AlertKind.ALERTS_DROPPED: Severity.WARNING,
    AlertKind.EXIT_BLOCKED: Severity.WARNING,
    AlertKind.FILL_FAILED: Severity.WARNING,
    AlertKind.REDEMPTION: Severity.WARNING,
    AlertKind.VENUE_NOT_READY: Severity.WARNING,
    AlertKind.CLOCK_SKEW: Severity.WARNING,
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: what happened, where, and what the system did about it."""

    kind: AlertKind
    severity: Severity
    where: str
    what_happened: str
    what_we_did: str
    detail: Mapping[str, Any]
    dedup_key: str
    ts: float
    suppressed_before: int = 0  # identical alerts suppressed in the window before this one

    @property
    def message(self) -> str:
        lines = [
            f"[{self.severity.upper()}] {self.kind}",
            f"Where: {self.where}",
            f"What happened: {self.what_happened}",
            f"What we did: {self.what_we_did}",
        ]
        if self.suppressed_before:
            lines.append(f"(+{self.suppressed_before} identical alerts suppressed before this)")
        return "\n".join(lines)


def dedup_key(kind: AlertKind, where: str, what_happened: str) -> str:
    """`kind:<16 hex>`: identical (kind, where, what_happened) give the same key."""
    digest = hashlib.sha256(f"{kind}\x00{where}\x00{what_happened}".encode()).hexdigest()[:16]
    return f"{kind}:{digest}"
