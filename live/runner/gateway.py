"""LIVE order gateway: executes the engine's PlaceOrder / CancelOrder commands at the venue and
feeds the answers back as journal events. The IO edge adds safety, never trading logic:
- an observer (not the sole trader) never sends anything: the order is rejected locally;
- every answer (ack before fills, rejects, UNKNOWN) goes back through the engine's one path;
- an UNKNOWN order is resolved by targeted queries until the venue gives a final answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from live.kernel.commands import CancelOrder, PlaceOrder
from live.kernel.domain import OrderPurpose
from live.kernel.events import OrderCancel, OrderReject, OrderSent, OrderUnknown
from live.venues.port import Venue

log = logging.getLogger(__name__)
RESOLVE_EVERY_S = 2.0
RESOLVE_GIVE_UP_S = 120.0


class OrderGateway:
    """Runs commands as tasks; `emit(event)` puts venue answers on the runner's event queue."""

    def __init__(
        self,
        venue: Venue,
        emit: Callable[[Any], None],
        now_ms: Callable[[], int],
        is_trader: Callable[[], bool],
        verify: Callable[[], Awaitable[bool]] | None = None,
        journal: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._venue = venue
        self._verify = verify  # checks the lock right before each order (issue 15)
        # Writes the order's row before it is sent (issue 15: a crash between the send and the
        # next flush left venue trades the database never heard of); False = not written.
        self._journal = journal
        self._emit = emit
        self._now_ms = now_ms
        self._is_trader = is_trader
        self._tasks: set[asyncio.Task] = set()
        self.sent = 0
        self.refused = 0
        # Placements whose final answer has not reached the event queue yet: an UNKNOWN order
        # stays in flight until resolved (the venue's balance and positions are moving then).
        self.in_flight = 0
        self.placements = 0  # every placement ever started (changes when one begins)
        self.resolved = 0  # UNKNOWN orders whose resolution ended (final answer or given up)
        # Follows matched fills to CONFIRMED / FAILED (live/runner/settling.py); the placement
        # stays in flight meanwhile (a FAILED trade moves the venue's balance back).
        self.settling: Any = None
        if hasattr(venue, "on_pending"):  # "accepted, matching pending" acks (docs/venue.md O1)
            venue.on_pending = emit

    def submit(self, command: Any) -> None:
        if isinstance(command, PlaceOrder):
            if not self._is_trader():
                self.refused += 1
                cid = command.order.client_order_id
                self._emit(OrderReject(self._now_ms(), cid, "observer: not the sole trader"))
                return
            self._spawn(self._place(command))
        elif isinstance(command, CancelOrder):
            self._spawn(self._cancel(command))

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _place(self, command: PlaceOrder) -> None:
        cid = command.order.client_order_id
        if self._verify is not None and not await self._verify():
            self.refused += 1
            self._emit(OrderReject(self._now_ms(), cid, "observer: the sole-trader lock is lost"))
            return
        written = self._journal is None or await self._journal()
        if not written and command.order.purpose is OrderPurpose.ENTRY:
            self.refused += 1
            self._emit(OrderReject(self._now_ms(), cid, "store unreachable: entry not sent"))
            return
        self.sent += 1
        self.placements += 1
        self.in_flight += 1
        # The send time (after the lock check and the journal write): "order placed at".
        self._emit(OrderSent(self._now_ms(), cid))
        try:
            execution = await self._venue.execute(command.payload)
        except Exception as exc:  # noqa: BLE001 - a failed send is UNKNOWN, never "nothing"
            log.error("order %s: execute failed: %s", cid, exc)
            self._emit(OrderUnknown(self._now_ms(), cid, f"execute failed: {exc}"))
            self._spawn(self._resolve(cid))
            return
        except BaseException:
            self.in_flight -= 1
            raise
        for event in execution.events:
            self._emit(event)
        if any(isinstance(e, OrderUnknown) for e in execution.events):
            self._spawn(self._resolve(cid))
        elif getattr(execution, "unsettled_trade_ids", ()) and self.settling is not None:
            self._spawn(self._settle(execution))
        else:
            self.in_flight -= 1

    def follow_settlement(self, execution: Any) -> None:
        """Follow an adopted order's fills still settling (an earlier run booked them at their
        match and was stopped before they were CONFIRMED or FAILED) to their outcome."""
        if self.settling is None or not execution.unsettled_trade_ids:
            return
        self.in_flight += 1
        self._spawn(self._settle(execution))

    async def _settle(self, execution: Any) -> None:
        try:
            await self.settling.follow(execution)
        finally:
            self.in_flight -= 1

    async def _resolve(self, client_order_id: str) -> None:
        """Targeted queries until the venue says what happened to an UNKNOWN order."""
        try:
            execution = await self._resolve_until_final(client_order_id)
            if execution is not None and execution.unsettled_trade_ids and self.settling:
                await self.settling.follow(execution)
        finally:
            self.in_flight -= 1
        self.resolved += 1

    async def _resolve_until_final(self, client_order_id: str) -> Any:
        waited = 0.0
        while waited < RESOLVE_GIVE_UP_S:
            await asyncio.sleep(RESOLVE_EVERY_S)
            waited += RESOLVE_EVERY_S
            try:
                execution = await self._venue.resolve(client_order_id)
            except Exception as exc:  # noqa: BLE001 - keep asking; the order stays UNKNOWN
                log.warning("resolving %s failed: %s", client_order_id, exc)
                continue
            if any(isinstance(e, OrderUnknown) for e in execution.events):
                continue  # still no final answer: an ack alone would lift the re-entry block
            for event in execution.events:
                self._emit(event)
            return execution
        log.error(
            "order %s still UNKNOWN after %.0f s; re-entry stays blocked",
            client_order_id,
            RESOLVE_GIVE_UP_S,
        )
        return None

    async def _cancel(self, command: CancelOrder) -> None:
        if command.venue_order_id is None or not self._is_trader():
            return
        try:
            if await self._venue.cancel(command.venue_order_id):
                self._emit(OrderCancel(self._now_ms(), command.client_order_id, command.reason))
        except Exception as exc:  # noqa: BLE001 - the order keeps its state; logged
            log.error("cancel %s failed: %s", command.client_order_id, exc)

    async def cancel_all(self) -> None:
        if self._is_trader():
            await self._venue.cancel_all()

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for in-flight orders to get their answers (used at shutdown)."""
        if self._tasks:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*self._tasks, return_exceptions=True), timeout_s
                )
