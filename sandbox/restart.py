"""Matching-engine restarts (fault `engine_restart`): Polymarket restarts its matching engine
(weekly, and after incidents); meanwhile the CLOB answers HTTP 425 "Too Early" on order posts and
cancels (and, optionally, heartbeats), every open order is cancelled, and for a short period
after the restart only post-only (resting) orders are taken. Sources: docs/venue.md,
"Order-path behaviours" (O2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.records import OrderStatus

if TYPE_CHECKING:
    from sandbox.exchange import Exchange

RESTART_MSG = "the matching engine is restarting, please retry later"
POST_ONLY_MSG = "the matching engine is in post-only mode: only post-only orders are accepted"
DEFAULT_RESTART_S = 90.0
DEFAULT_POST_ONLY_S = 120.0  # docs: 2 minutes of post-only mode after each restart
ORDER_PATHS = ("/clob/order", "/clob/orders", "/clob/cancel-all", "/clob/cancel-market-orders")
HEARTBEAT_PATH = "/clob/v1/heartbeats"


@dataclass(slots=True)
class Restart:
    """One restart: 425 until `ready_at` (venue clock, seconds), post-only until `open_at`."""

    ready_at: float
    open_at: float
    heartbeats: bool


def begin(ex: Exchange, seconds: float, post_only_s: float, heartbeats: bool) -> Restart:
    """Start a restart now: every open order of every user is cancelled at once."""
    now = ex.clock()
    restart = Restart(now + seconds, now + seconds + post_only_s, heartbeats)
    ex.restart = restart
    for orders in list(ex.resting.values()):
        for order in list(orders):
            ex.cancel(order.owner, [order.id], OrderStatus.CANCELED)
    ex.counters["engine_restarts"] += 1
    return restart


def refusal(ex: Exchange, method: str, path: str) -> str | None:
    """The 425 text for a request the restarting engine does not take, else None."""
    restart = ex.restart
    if restart is None:
        return None
    if ex.clock() >= restart.ready_at:
        return None
    if path == HEARTBEAT_PATH:
        return RESTART_MSG if restart.heartbeats else None
    if method in ("POST", "DELETE") and path in ORDER_PATHS:
        return RESTART_MSG
    return None


def post_only(ex: Exchange) -> bool:
    """Whether the engine takes only post-only (resting, non-marketable) orders right now."""
    restart = ex.restart
    if restart is None:
        return False
    now = ex.clock()
    if now >= restart.open_at:
        ex.restart = None
        return False
    return now >= restart.ready_at
