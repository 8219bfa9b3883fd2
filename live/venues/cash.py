"""Settling to cash for `PolymarketVenue` (a mixin, split out for size): our redemptions
through the SDK, the venue's auto-redemptions (AUTO_REDEEMED notifications) and the trading
approval auto-redeem needs. See docs/venue.md, "Sources of the sandbox's realism"."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from polymarket.errors import PolymarketError

from live.venues import sdk_internal
from live.venues.errors import VenueError, VenueQueryError
from live.venues.port import Redemption

log = logging.getLogger(__name__)


class CashFlow:
    """Needs from the host: client, _tx_submit, _scrub."""

    client: Any
    _tx_submit: asyncio.Lock
    _scrub: Callable[[object], str]

    async def redeem(self, condition_id: str) -> Redemption:
        """`redeem_positions` (JSON-RPC for an EOA, the relayer for a gasless wallet), then
        wait for the transaction's terminal outcome. One transaction, no retry here (the
        runner's redemption desk retries); VenueError names what failed. Submissions are
        serialised (the nonce), the waits for confirmation are not: several windows' redemptions
        confirm side by side."""
        try:
            async with self._tx_submit:
                handle = await self.client.redeem_positions(condition_id=condition_id)
            outcome = await handle.wait()
        except PolymarketError as error:
            raise VenueError(f"redeem {condition_id}: {self._scrub(error)}") from None
        via = "rpc" if type(handle).__name__.startswith("Eoa") else "relayer"
        tx_hash = str(getattr(outcome, "transaction_hash", None) or handle.transaction_hash or "")
        return Redemption(condition_id=condition_id, tx_hash=tx_hash, via=via)

    async def auto_redemptions(self) -> list[Redemption]:
        """AUTO_REDEEMED notifications (the SDK reads them over REST only)."""
        try:
            notes = await self.client.get_notifications()
        except PolymarketError as error:
            raise VenueQueryError("notifications", self._scrub(error)) from None
        out = []
        for note in notes:
            payload = getattr(note, "payload", None)
            if type(payload).__name__ != "AutoRedeemedNotificationPayload":
                continue
            out.append(
                Redemption(
                    condition_id=str(payload.condition_id),
                    tx_hash=str(payload.transaction_hash),
                    via="operator",
                    paid=Decimal(payload.amount),
                    note_id=str(note.id),
                )
            )
        return out

    async def drop_notifications(self, note_ids: list[str]) -> None:
        try:
            await self.client.drop_notifications(ids=note_ids)
        except PolymarketError as error:
            log.warning("dropping notifications failed: %s", self._scrub(error))

    async def auto_redeem_approved(self) -> bool:
        try:
            state = await self.client.get_trading_approvals_state()
        except PolymarketError as error:
            raise VenueQueryError("trading approvals", self._scrub(error)) from None
        operator = sdk_internal.auto_redeem_operator(self.client).lower()
        return not any(a.operator.lower() == operator for a in state.missing.erc1155)
