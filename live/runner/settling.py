"""LIVE: matched fills followed to their on-chain outcome (issue 13). The venue's match is the
order's answer (the fill is booked: "filled, settlement pending"); the trade then moves MATCHED →
MINED → CONFIRMED over seconds to tens of seconds, or RETRYING → FAILED. Until it is CONFIRMED
the engine holds exits of those shares and blocks re-entry on the window; this follower polls the
trade's status (user channel and REST) and hands the engine a `FillSettled` when it is final:
CONFIRMED, or FAILED (the engine reverses the fill). One still settling `bound_s` after its
match is alerted (assertion 2 fails past the same bound); it is followed until `give_up_s`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from live.kernel.events import FillSettled
from live.runner.alarms import RaiseAlert
from live.venues.execution import Execution, fill_id_of
from live.venues.port import Venue

log = logging.getLogger(__name__)
POLL_S = 1.0
GIVE_UP_S = 600.0


class SettlementFollower:
    """Follows the unsettled trades of answered orders; `emit` puts `FillSettled` events on the
    runner's event queue."""

    def __init__(
        self,
        venue: Venue,
        emit: Callable[[Any], None],
        now_ms: Callable[[], int],
        alert: RaiseAlert,
        bound_s: float,
    ) -> None:
        self._venue, self._emit, self._now_ms, self._alert = venue, emit, now_ms, alert
        self._bound_s = bound_s
        self.following: dict[str, tuple[str, ...]] = {}  # client order id -> trade ids left
        self.settled = 0
        self.failed = 0

    async def follow(self, execution: Execution) -> None:
        """Until every unsettled trade of `execution` is CONFIRMED or FAILED (or `GIVE_UP_S`)."""
        cid, vid = execution.client_order_id, str(execution.venue_order_id)
        left = set(execution.unsettled_trade_ids)
        self.following[cid] = tuple(sorted(left))
        waited, alerted = 0.0, False
        try:
            while left and waited < GIVE_UP_S:
                await asyncio.sleep(POLL_S)
                waited += POLL_S
                try:
                    statuses = await self._venue.trade_statuses(cid, *_adopted(execution))
                except Exception as exc:  # noqa: BLE001 - keep asking: the fill stays pending
                    log.warning("following the settlement of %s failed: %s", cid, exc)
                    continue
                for trade_id in sorted(left):
                    status = statuses.get(trade_id)
                    if status in ("CONFIRMED", "FAILED"):
                        left.discard(trade_id)
                        reason = "" if status == "CONFIRMED" else f"trade {trade_id} FAILED"
                        self._emit(
                            FillSettled(self._now_ms(), cid, fill_id_of(trade_id, vid), status,
                                        reason)
                        )  # fmt: skip
                        self.settled += 1
                        self.failed += status == "FAILED"
                self.following[cid] = tuple(sorted(left))
                if left and not alerted and waited >= self._bound_s:
                    alerted = True
                    self._alert(
                        "position_unknown",
                        cid,
                        f"trades {sorted(left)} matched {waited:.0f} s ago, not yet CONFIRMED",
                        "shares held unsold and re-entry blocked; still following",
                    )
            if left:
                log.error("order %s: trades %s never settled; still pending", cid, sorted(left))
        finally:
            self.following.pop(cid, None)


def _adopted(execution: Any) -> tuple[tuple[str, str, int], ...]:
    """The lookup of an adopted order (an earlier process answered it), none for our own."""
    token_id = getattr(execution, "token_id", None)
    if token_id is None:
        return ()
    return ((str(execution.venue_order_id), token_id, execution.sent_s),)
