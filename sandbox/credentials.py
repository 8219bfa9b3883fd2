"""L2 credential lifetime and request freshness (issue 14, docs/venue.md "Order-path
behaviours", O5): users report L2 requests answered 401 after their API credentials expire
(about 30 min in one report) and when the machine's clock is off. With `credential_lifetime_s`
an API key stops authenticating that long after it was created or last derived (deriving it
again renews it); with `max_timestamp_age_s` a request whose POLY_TIMESTAMP is further than that
from the venue's clock (which the `clock_skew` fault moves) is refused. The fault
`expire_credentials` expires every key at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.auth import AuthError

if TYPE_CHECKING:
    from sandbox.exchange import Exchange

EXPIRED_MSG = "Unauthorized/Invalid api key"


def l2_fresh(ex: Exchange, key: str, timestamp: str) -> None:
    """AuthError (401) if the key has outlived `credential_lifetime_s` or the request's
    timestamp is stale or ahead by more than `max_timestamp_age_s`."""
    lifetime = ex.config.credential_lifetime_s
    if lifetime is not None and ex.clock() - ex.key_issued.get(key, ex.clock()) > lifetime:
        ex.keys.pop(key, None)
        ex.counters["credentials_expired"] += 1
        raise AuthError(EXPIRED_MSG)
    max_age = ex.config.max_timestamp_age_s
    if max_age is None:
        return
    try:
        stamped = int(timestamp)
    except ValueError:
        raise AuthError(EXPIRED_MSG) from None
    if abs(ex.venue_now() - stamped) > max_age:
        ex.counters["l2_stale_timestamps"] += 1
        raise AuthError(EXPIRED_MSG)
