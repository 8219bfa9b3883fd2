"""Session fixture: one sandbox exchange on a free loopback port, and SDK clients against it.
Import with `from sandbox_fixtures import *` (or list it in `pytest_plugins`)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_account import Account

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

WINDOW_SECONDS = 10
SETTLE_DELAY = 1.0
PAGE_SIZE = 2  # small, so a handful of trades spans several pages


class SandboxHandle:
    """What tests see of the running sandbox: URLs, state, faults, SDK environment."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.urls = server.urls
        # The admin routes (faults, fund) need the server's token; every call here sends it.
        self.http = httpx.Client(base_url=self.base_url, timeout=10, headers=server.admin_headers)

    def state(self) -> dict:
        return self.http.get("/_sandbox/state").json()

    def inject(self, kind: str, **params: Any) -> dict:
        response = self.http.post("/_sandbox/faults", json={"kind": kind, **params})
        response.raise_for_status()
        return response.json()

    def clear_faults(self) -> None:
        self.http.delete("/_sandbox/faults").raise_for_status()

    def fund(self, address: str, usd: str) -> None:
        self.http.post("/_sandbox/fund", json={"address": address, "usd": usd}).raise_for_status()

    def environment(self, poll_ms: int | None = None):
        """An SDK environment whose URLs point here (the SDK's internal hook, pinned 0.14.0).
        `poll_ms` sets how often the SDK polls a transaction's receipt or relayer state
        (the SDK's default is 2000 ms)."""
        from polymarket._internal.environment import PRODUCTION_CONFIG, create_environment

        u = self.urls
        config = dataclasses.replace(
            PRODUCTION_CONFIG,
            clob_url=u["clob"],
            gamma_url=u["gamma"],
            data_url=u["data"],
            relayer_url=u["relayer"],
            rpc_url=self.server.rpc_url,
            clob_market_ws_url=u["ws_market"],
            clob_user_ws_url=u["ws_user"],
            rtds_ws_url=u["ws_prices"],
        )
        if poll_ms is not None:
            config = dataclasses.replace(config, relayer_poll_frequency_ms=poll_ms)
        return create_environment(name="sandbox", config=config)

    def new_wallet(self):
        return Account.create()

    def client(self, wallet=None, poll_ms: int | None = None):
        """A synchronous `SecureClient` for a fresh (or given) EOA wallet."""
        from polymarket import SecureClient

        wallet = wallet or self.new_wallet()
        return SecureClient.create(
            private_key=wallet.key.hex(),
            wallet=wallet.address,
            environment=self.environment(poll_ms),
        )

    def deposit_wallet_client(self, wallet=None, poll_ms: int | None = None):
        """A `SecureClient` for the signer's deposit wallet (the SDK's default flow without
        `wallet`): gasless, so it carries a relayer API key bound to the signer."""
        from polymarket import SecureClient
        from polymarket.auth import RelayerApiKey

        wallet = wallet or self.new_wallet()
        return SecureClient.create(
            private_key=wallet.key.hex(),
            environment=self.environment(poll_ms),
            api_key=RelayerApiKey(key="sandbox-relayer-key", address=wallet.address),
        )

    async def async_client(self, wallet=None, poll_ms: int | None = None):
        from polymarket import AsyncSecureClient

        wallet = wallet or self.new_wallet()
        return await AsyncSecureClient.create(
            private_key=wallet.key.hex(),
            wallet=wallet.address,
            environment=self.environment(poll_ms),
        )

    def window(self, where: Callable[[dict], bool], timeout: float = 30.0) -> dict:
        """Poll `/_sandbox/state` until a window satisfies `where`."""
        return wait_for(
            lambda: next((w for w in self.state()["windows"] if where(w)), None), timeout
        )

    def resolved(self, window: dict, slack: float = 15.0) -> dict:
        """Wait until `window` has resolved; its state row then (winner, final, strike)."""
        return self.window(
            lambda w: w["slug"] == window["slug"] and w["status"] == "resolved",
            timeout=window["close_ts"] - time.time() + slack,
        )

    def open_window(self, min_left: float = 4.0, asset: str = "BTC") -> dict:
        return self.window(
            lambda w: (
                w["status"] == "open"
                and w["asset"] == asset
                and w["close_ts"] - time.time() > min_left
            )
        )


# A marketable BUY's worst price: an SDK market order priced from the book it just read is killed
# when the maker ladder moves before the post (~3% of FAKs); at 0.99 it crosses any ask below it.
WORST_BUY = "0.99"
KILL_MESSAGES = {
    "FAK": "FAK orders are partially filled or killed",
    "FOK": "FOK orders are fully filled or killed",
}


def market_buy(client, token_id: str, amount: str, order_type: str = "FAK", attempts: int = 10):
    """A marketable BUY that trades: the SDK prices it from the book it just read, and the
    sandbox's maker ladder moves every second, so the venue may kill it (no fill, no balance
    change). Only that refusal is re-sent, at most `attempts` times; any other answer fails."""
    for _ in range(attempts):
        result = client.place_market_order(
            token_id=token_id, side="BUY", amount=amount, order_type=order_type
        )
        if result.ok:
            return result
        assert KILL_MESSAGES[order_type] in result.message, result.message
    raise AssertionError(f"{order_type} BUY of ${amount} killed {attempts} times in a row")


def wait_for(probe: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


def venue_config(**overrides: Any) -> SandboxConfig:
    """A sandbox in the `venue` realism profile (docs/sandbox.md, "Realism") with 10 s BTC
    windows settled 1 s after the close; `overrides` replace single options (a drill that checks
    effects rather than latencies may shorten the chain's)."""
    settings: dict[str, Any] = {
        "port": 0,
        "seed": 5,
        "assets": ("BTC",),
        "window_seconds": (WINDOW_SECONDS,),
        "settle_delay": SETTLE_DELAY,
        "realism": "venue",
    }
    settings.update(overrides)
    return SandboxConfig(**settings)


def refresh_balance(client, asset_type: str = "COLLATERAL", token_id: str | None = None) -> None:
    """GET /balance-allowance/update through the SDK's internal L2 transport (no public call in
    0.14.0): the venue re-reads the balance its cache answers with (realism `balance_cache`)."""
    from polymarket._internal.actions.account import build_update_balance_allowance_request
    from polymarket._internal.wallet import signature_type_for

    ctx = client._ctx
    path, params = build_update_balance_allowance_request(
        asset_type=asset_type, token_id=token_id, signature_type=signature_type_for(ctx.wallet_type)
    )
    ctx.secure_clob.get_bytes(path, params=params)


def usdc(client, fresh: bool = True) -> Decimal:
    """The client's collateral balance in dollars (CLOB, queried now; `fresh`: the venue's
    cache refreshed first, as a trader does after a fill)."""
    if fresh:
        refresh_balance(client)
    return Decimal(client.get_balance_allowance(asset_type="COLLATERAL").balance) / 10**6


def positions(client, **filters: Any) -> list:
    """Every Data API position row of the client's wallet (SDK `Position` models)."""
    return [row for page in client.list_positions(**filters) for row in page.items]


@contextlib.contextmanager
def running_sandbox(config: SandboxConfig) -> Iterator[SandboxHandle]:
    """A sandbox of one's own (e.g. the `venue` realism profile), stopped on exit."""
    server = SandboxServer(config).start()
    handle = SandboxHandle(server)
    try:
        yield handle
    finally:
        handle.http.close()
        server.stop()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    """The shared sandbox of the SDK-surface drills (orders, books, streams, payout rules), in
    the `instant` profile: they check the venue's answer to one request right after it (a fill's
    position in the Data API, a payout at resolution). The venue profile's latencies, lag and
    redemption have their own drills (test_sandbox_realism_*), and the runner's tests run on the
    default `venue` profile."""
    config = SandboxConfig(
        realism="instant",
        port=0,
        seed=7,
        assets=("BTC", "ETH"),
        window_seconds=(WINDOW_SECONDS,),
        settle_delay=SETTLE_DELAY,
        trade_step_seconds=0.2,
        page_size=PAGE_SIZE,
    )
    server = SandboxServer(config).start()
    handle = SandboxHandle(server)
    yield handle
    handle.http.close()
    server.stop()


__all__ = [
    "WORST_BUY",
    "SandboxHandle",
    "market_buy",
    "positions",
    "refresh_balance",
    "running_sandbox",
    "sandbox",
    "usdc",
    "venue_config",
    "wait_for",
]
