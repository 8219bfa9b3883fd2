"""Steps that may fail without stopping what comes after them (the runner's shutdown, the clock
offset re-measure): the failures we expect — the venue's (VenueError, the SDK's PolymarketError,
httpx), the database's (psycopg, the pool's timeout) and the network's (OSError, timeouts) — are
logged as warnings; anything else is logged with its traceback and counted in `unexpected`,
shown in /health (`guarded_failures`), never swallowed silently."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psycopg
from polymarket.errors import PolymarketError
from psycopg_pool import PoolTimeout

from live.venues.errors import VenueError

log = logging.getLogger(__name__)
EXPECTED: tuple[type[BaseException], ...] = (
    VenueError,
    PolymarketError,
    httpx.HTTPError,
    psycopg.Error,
    PoolTimeout,
    OSError,
    TimeoutError,
)


class Guarded:
    """Counts of failed steps by name: `expected` (logged) and `unexpected` (logged with the
    traceback: a bug to look at)."""

    def __init__(self) -> None:
        self.expected: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()

    async def run(self, name: str, step: Callable[[], Awaitable[Any]]) -> Any:
        """Await `step()`; None if it failed (the failure logged and counted)."""
        try:
            return await step()
        except EXPECTED as exc:
            self.expected[name] += 1
            log.warning("%s failed: %s: %s", name, type(exc).__name__, exc)
        except Exception:  # noqa: BLE001 - not expected: logged with its traceback and counted
            self.unexpected[name] += 1
            log.exception("%s failed unexpectedly", name)
        return None

    def status(self) -> dict[str, dict[str, int]]:
        return {"expected": dict(self.expected), "unexpected": dict(self.unexpected)}
