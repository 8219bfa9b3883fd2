"""Every use of the SDK's internal API in one place (pinned polymarket-client 0.14.0), so that
the guard test (tests/test_venue_sdk_guard.py) fails loudly if the SDK's shape changes:
- the environment hook (`polymarket._internal.environment`), used by live/venues/config.py;
- the balance-allowance refresh, which the SDK only performs inside its allowance recovery;
- the environment's auto-redeem operator address (the trading approval auto-redeem needs);
- the L2 header resolver, replaced to sign on the venue's clock when ours is skewed (the SDK
  stamps POLY_TIMESTAMP with `int(time.time())`, clients/async_secure.py
  `_make_l2_header_resolver`), and to use credentials derived again in place after a 401
  (`_bootstrap_credentials` does create-or-derive with an L1 signature; the SDK has no public
  call to renew a client's credentials).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from polymarket._internal.actions import auth as auth_actions
from polymarket._internal.actions.account import build_update_balance_allowance_request
from polymarket._internal.hmac import build_hmac_signature
from polymarket._internal.l1_auth import sign_api_key_auth
from polymarket._internal.wallet import signature_type_for
from polymarket.clients._transport import AsyncTransport

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


async def rederive_credentials(client: Any, offset_s: float = 0.0) -> None:
    """Create-or-derive the API credentials again (an L1 signature, as `create` does) and put
    them in the client in place, so every holder of the client signs with them from now on."""
    ctx = client._ctx
    config = ctx.environment_config
    clob = AsyncTransport(base_url=config.clob_url)
    try:
        signature = sign_api_key_auth(
            ctx.signer, chain_id=config.chain_id, timestamp=int(time.time() + offset_s), nonce=0
        )
        creds = await auth_actions.create_or_derive_api_key(clob, signature)
    finally:
        await clob.close()
    object.__setattr__(ctx, "credentials", creds)  # the context is a frozen dataclass
    sign_with_offset(client, offset_s)


def sign_with_offset(client: Any, offset_s: float) -> None:
    """Stamp L2 requests with `time.time() + offset_s` (the venue's clock; 0 = our own): the
    same headers as the SDK's resolver, only the timestamp moves."""
    ctx = client._ctx
    signer, creds = ctx.signer, ctx.credentials

    async def resolver(method: str, path: str, body: str | None) -> Mapping[str, str]:
        timestamp = int(time.time() + offset_s)
        signature = build_hmac_signature(
            secret=creds.secret, timestamp=timestamp, method=method, path=path, body=body
        )
        return {
            "POLY_ADDRESS": signer.address,
            "POLY_API_KEY": creds.key,
            "POLY_PASSPHRASE": creds.passphrase,
            "POLY_SIGNATURE": signature,
            "POLY_TIMESTAMP": str(timestamp),
        }

    ctx.secure_clob._header_resolver = resolver
