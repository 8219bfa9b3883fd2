"""Every use of the SDK's internal API in one place (pinned polymarket-client 0.14.0), so that
the guard test (tests/test_venue_sdk_guard.py) fails loudly if the SDK's shape changes:
- the environment hook (`polymarket._internal.environment`), used by live/venues/config.py;
- the balance-allowance refresh, which the SDK only performs inside its allowance recovery;
- the environment's auto-redeem operator address (the trading approval auto-redeem needs).
"""

from __future__ import annotations

from typing import Any

from polymarket._internal.actions.account import build_update_balance_allowance_request
from polymarket._internal.wallet import signature_type_for

SDK_VERSION = "0.14.0"


async def refresh_balance_allowance(
    client: Any, asset_type: str = "COLLATERAL", token_id: str | None = None
) -> None:
    """Ask the venue to re-read our on-chain balance (GET /balance-allowance/update): its
    cached balance is stale right after a fill (POLYMARKET.md)."""
    ctx = client._ctx
    path, params = build_update_balance_allowance_request(
        asset_type=asset_type,
        token_id=token_id,
        signature_type=signature_type_for(ctx.wallet_type),
    )
    await ctx.secure_clob.get_bytes(path, params=params)


def wallet_type(client: Any) -> str:
    """The SDK's classification of the wallet (EOA, POLY_PROXY, GNOSIS_SAFE, DEPOSIT_WALLET)."""
    return str(client.wallet_type)


def auto_redeem_operator(client: Any) -> str:
    """The environment's auto-redeem operator address (what the trading approvals grant)."""
    return str(client._ctx.environment_config.auto_redeem_operator)
