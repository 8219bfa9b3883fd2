"""The venue's balance cache (realism option `balance_cache`): the CLOB answers
`GET /balance-allowance` and checks an order's balance against a per-(account, asset) snapshot
that only `GET /balance-allowance/update` (same `asset_type` / `token_id`) refreshes. After a fill
the COLLATERAL snapshot and the bought token's CONDITIONAL snapshot are stale: a SELL of the new
shares is refused "not enough balance / allowance" until the token's snapshot is refreshed.
An account's COLLATERAL snapshot is taken the first time it is read or checked (its deposit);
a token never refreshed counts as 0 shares (the venue has not indexed it yet). Sources:
docs/venue.md, "Order-path behaviours" (O3)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sandbox.ledger import ZERO

if TYPE_CHECKING:
    from sandbox.exchange import Exchange

COLLATERAL = "COLLATERAL"


def _actual(ex: Exchange, address: str, asset: str) -> Decimal:
    acct = ex.ledger.account(address)
    if asset == COLLATERAL:
        return acct.usdc
    return acct.shares.get(asset, ZERO)


def cached(ex: Exchange, address: str, asset: str) -> Decimal:
    """The venue's view of `asset` (COLLATERAL or a token id) for `address`: the snapshot when
    the cache is on (taken now if there is none), else the ledger's value."""
    if not ex.config.balance_cache:
        return _actual(ex, address, asset)
    key = (address.lower(), asset)
    if key not in ex.balance_snapshots:
        ex.balance_snapshots[key] = _actual(ex, address, asset) if asset == COLLATERAL else ZERO
    return ex.balance_snapshots[key]


def refresh(ex: Exchange, address: str, asset: str) -> None:
    """`/balance-allowance/update`: re-read the account's `asset` from the chain (the ledger)."""
    ex.balance_snapshots[(address.lower(), asset)] = _actual(ex, address, asset)
    ex.counters["balance_cache_refreshes"] += 1


def forget(ex: Exchange, address: str) -> None:
    """Drop an account's COLLATERAL snapshot (a sandbox deposit through /_sandbox/fund)."""
    ex.balance_snapshots.pop((address.lower(), COLLATERAL), None)


def spendable(ex: Exchange, address: str, asset: str) -> Decimal:
    """What an order check may count on: the smaller of the ledger and the venue's snapshot."""
    return min(_actual(ex, address, asset), cached(ex, address, asset))
