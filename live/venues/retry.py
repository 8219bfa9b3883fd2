"""Bounded exponential backoff with full jitter for venue READS (HTTP 425 / 429 / 5xx and
transport failures). Order posts never go through here blindly: see live/venues/posting.py."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from polymarket.errors import (
    RateLimitError,
    RequestRejectedError,
    TransportError,
    UnexpectedResponseError,
)

from live.venues.errors import VenueError, VenueQueryError

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE_STATUS = frozenset({425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Backoff:
    """How often and how long to wait; the n-th wait is uniform in [0, min(max, base·2ⁿ)],
    but never shorter than the venue's Retry-After."""

    max_retries: int = 4
    base_s: float = 0.2
    max_s: float = 5.0
    # Called once per query on an HTTP 401 (derive the API credentials again, O5), then the
    # query is retried; None: a 401 is permanent.
    on_unauthorized: Callable[[], Awaitable[None]] | None = field(default=None, compare=False)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        cap = min(self.max_s, self.base_s * (2**attempt))
        jittered = rng.uniform(0, cap)
        if retry_after is not None:
            return min(self.max_s, max(jittered, retry_after))
        return jittered


def retryable(error: BaseException) -> tuple[bool, float | None]:
    """Whether an SDK / HTTP error is transient, and the venue's suggested wait."""
    if isinstance(error, RateLimitError):
        return True, error.retry_after
    if isinstance(error, RequestRejectedError):
        return error.status in RETRYABLE_STATUS, error.retry_after
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code in RETRYABLE_STATUS, _retry_after(error.response)
    if isinstance(error, TransportError | httpx.TransportError):
        return True, None
    return False, None


def status_of(error: BaseException) -> int | None:
    if isinstance(error, RateLimitError):
        return 429
    if isinstance(error, RequestRejectedError):
        return error.status
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code
    return None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


async def with_backoff(
    what: str,
    call: Callable[[], Awaitable[T]],
    policy: Backoff,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run an idempotent query, retrying transient failures; VenueQueryError when it gives up
    or on a permanent failure (a failed query is never read as an empty answer)."""
    rng = rng or random.Random()
    last: BaseException | None = None
    renewed = False
    for attempt in range(policy.max_retries + 1):
        try:
            return await call()
        except (
            RequestRejectedError,
            RateLimitError,
            TransportError,
            UnexpectedResponseError,
            httpx.HTTPError,
        ) as error:
            last = error
            if status_of(error) == 401 and policy.on_unauthorized is not None and not renewed:
                renewed = True
                try:
                    await policy.on_unauthorized()
                except VenueError as renewal:
                    raise VenueQueryError(what, renewal) from None
                continue
            transient, retry_after = retryable(error)
            if not transient or attempt == policy.max_retries:
                break
            wait = policy.delay(attempt, retry_after, rng)
            log.warning("venue %s failed (%s); retry %d in %.2fs", what, error, attempt + 1, wait)
            await sleep(wait)
    raise VenueQueryError(what, last or "no attempt made")
