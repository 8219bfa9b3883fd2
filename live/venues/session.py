"""API credentials and the clock of `PolymarketVenue` (a mixin, split out for size; issue 14,
docs/venue.md "Order-path behaviours", O5). Users report L2 requests answered 401 once their API
credentials expire (about 30 min in one report) or when their clock is off the venue's. On a 401
the adapter measures the clock offset first (GET /time, unauthenticated): beyond `skew_sign_s`
every L2 request is stamped on the venue's clock from then on; then it derives the credentials
again (an L1 signature) into the same SDK client, and the request is retried once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from polymarket.errors import PolymarketError

from live.venues import sdk_internal
from live.venues.clock import ClockSample
from live.venues.errors import VenueError, VenueQueryError
from live.venues.retry import with_backoff

log = logging.getLogger(__name__)


class Session:
    """Needs from the host: client, config, urls, policy, _http, _client, _clock, _scrub."""

    client: Any
    config: Any
    urls: Any
    policy: Any
    _http: httpx.AsyncClient | None
    _client: Any
    _clock: Callable[[], float]
    _scrub: Callable[[object], str]

    def _init_session(self) -> None:
        self.credential_renewals = 0  # API credentials derived again after a 401
        self.skew_s = 0.0  # venue clock minus ours, last measured (seconds)
        self._sign_offset_s = 0.0  # L2 timestamps are ours + this (0 unless skewed)
        self._renewing = asyncio.Lock()

    async def renew_credentials(self) -> None:
        """An L2 request answered 401: measure the clock (sign on the venue's when skewed),
        then derive the API credentials again into the same SDK client. VenueError if the
        venue refuses the derivation."""
        async with self._renewing:
            try:
                await self.clock_offset_ms()
            except VenueQueryError as error:
                log.warning("clock check before renewing credentials failed: %s", error)
            try:
                await sdk_internal.rederive_credentials(self.client, self._sign_offset_s)
            except PolymarketError as error:
                raise VenueError(f"cannot renew API credentials: {self._scrub(error)}") from None
            self.credential_renewals += 1
            log.warning("API credentials derived again (renewal %d)", self.credential_renewals)

    async def clock_offset_ms(self) -> int:
        """Venue server time minus ours, in ms, from one reading (±500 ms: whole seconds)."""
        lo, hi = (await self.clock_sample()).bounds()
        return round((lo + hi) / 2)

    async def clock_sample(self) -> ClockSample:
        """One reading of the venue's clock (`GET /time`: whole epoch seconds, truncated, per
        py-clob-client `get_server_time`; a value above 1e11 is taken as ms) with our wall
        clock (epoch ms) at send and receive; its midpoint is followed for signing (O5).
        Retries with backoff; raises VenueQueryError."""
        http = self._http or httpx.AsyncClient(timeout=self.config.http_timeout_s)
        self._http = http

        async def query() -> ClockSample:
            before = self._clock()
            response = await http.get(f"{self.urls.clob}/time")
            response.raise_for_status()
            after = self._clock()
            server = int(Decimal(str(response.json())))
            seconds = server < 10**11
            return ClockSample(
                sent_ms=before * 1000,
                received_ms=after * 1000,
                server_ms=server * 1000 if seconds else server,
                resolution_ms=1000 if seconds else 1,
            )

        sample = await with_backoff("server time", query, self.policy)
        lo, hi = sample.bounds()
        self._follow_skew((lo + hi) / 2000)
        return sample

    def _follow_skew(self, offset_s: float) -> None:
        """Sign L2 requests on the venue's clock while ours is off by more than `skew_sign_s`
        (the venue refuses stale POLY_TIMESTAMPs with 401, O5); back to ours once it is not."""
        self.skew_s = offset_s
        wanted = offset_s if abs(offset_s) > self.config.skew_sign_s else 0.0
        if self._client is not None and wanted != self._sign_offset_s:
            log.warning("clock skew %.1fs: L2 requests signed with offset %.1fs", offset_s, wanted)
            sdk_internal.sign_with_offset(self._client, wanted)
            self._sign_offset_s = wanted

    @property
    def skewed(self) -> bool:
        """Our clock is off the venue's by more than `skew_alert_s` (alert, O5)."""
        return abs(self.skew_s) > self.config.skew_alert_s
