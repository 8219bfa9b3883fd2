"""Credentials and configuration of the venue adapter, the SDK internal-API guard, and the
no-duplicate post logic with hand-written fakes (no network)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random

import pytest
from eth_account import Account
from polymarket.errors import RequestRejectedError, TransportError
from pydantic import ValidationError

from live.venues import CredentialError, VenueConfig
from live.venues.config import FUNDER_VAR, KEY_VAR, SIGNATURE_TYPE_VAR
from live.venues.posting import Posted, post_without_duplicates
from live.venues.retry import Backoff

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def test_missing_key_for_live_on_polymarket_names_the_variable_before_connecting():
    with pytest.raises(CredentialError) as caught:
        VenueConfig.from_env("polymarket", env={})
    assert caught.value.variable == KEY_VAR and KEY_VAR in str(caught.value)


@pytest.mark.parametrize("bad", ["0x1234", "zz" * 32, KEY + "00", "0x" + "0" * 64, "0x" + "f" * 64])
def test_malformed_key_names_the_variable_never_the_value(bad):
    with pytest.raises(CredentialError) as caught:
        VenueConfig.from_env("polymarket", env={KEY_VAR: bad})
    assert caught.value.variable == KEY_VAR
    assert bad not in str(caught.value) and bad.removeprefix("0x") not in repr(caught.value)


def test_funder_and_signature_type_are_validated():
    with pytest.raises(CredentialError) as caught:
        VenueConfig.from_env("polymarket", env={KEY_VAR: KEY, SIGNATURE_TYPE_VAR: "2"})
    assert caught.value.variable == FUNDER_VAR
    with pytest.raises(CredentialError) as caught:
        VenueConfig.from_env("polymarket", env={KEY_VAR: KEY, SIGNATURE_TYPE_VAR: "7"})
    assert caught.value.variable == SIGNATURE_TYPE_VAR
    with pytest.raises(CredentialError) as caught:
        VenueConfig.from_env("polymarket", env={KEY_VAR: KEY, FUNDER_VAR: "0x12"})
    assert caught.value.variable == FUNDER_VAR
    funder = Account.create().address
    config = VenueConfig.from_env(
        "polymarket", env={KEY_VAR: KEY, FUNDER_VAR: funder, SIGNATURE_TYPE_VAR: "2"}
    )
    assert config.funder == funder and config.signature_type == 2


def test_the_key_appears_in_no_repr_dump_log_or_error(caplog):
    caplog.set_level(logging.DEBUG)
    config = VenueConfig.from_env("polymarket", env={KEY_VAR: KEY})
    bare = KEY.removeprefix("0x")
    logging.getLogger("live.venues").info("config %s %r", config, config)
    texts = [repr(config), str(config), config.model_dump_json(), str(config.model_dump())]
    with pytest.raises(ValidationError) as caught:
        VenueConfig(venue="polymarket", private_key=KEY, unknown_setting=1)
    texts += [str(caught.value), caplog.text]
    assert all(bare not in text for text in texts)
    assert config.key_hex() == KEY  # only the explicit accessor returns it


def test_sandbox_generates_a_key_when_absent_and_needs_its_url():
    config = VenueConfig.from_env("sandbox", sandbox_url="http://127.0.0.1:1", env={})
    assert config.private_key is not None
    with pytest.raises(ValidationError, match="sandbox_url"):
        VenueConfig.from_env("sandbox", env={})
    with pytest.raises(ValidationError, match="extra"):
        VenueConfig(venue="sandbox", sandbox_url="http://h:1", confirm_timeout=5)


def test_polymarket_uses_the_production_environment_unchanged():
    from polymarket.environments import PRODUCTION

    config = VenueConfig.from_env("polymarket", env={KEY_VAR: KEY})
    assert config.environment() is PRODUCTION
    assert config.urls().clob == "https://clob.polymarket.com"


def test_sandbox_environment_swaps_only_the_urls():
    from polymarket._internal.environment import PRODUCTION_CONFIG, get_environment_config

    config = VenueConfig.from_env("sandbox", sandbox_url="http://127.0.0.1:9", env={})
    sdk_config = get_environment_config(config.environment())
    assert sdk_config.clob_url == "http://127.0.0.1:9/clob"
    assert sdk_config.gamma_url == "http://127.0.0.1:9/gamma"
    assert sdk_config.clob_user_ws_url == "ws://127.0.0.1:9/ws/user"
    assert sdk_config.chain_id == PRODUCTION_CONFIG.chain_id
    assert sdk_config.standard_exchange == PRODUCTION_CONFIG.standard_exchange


def test_sdk_internal_api_the_adapter_uses_still_has_its_shape():
    """Guard: fails loudly when an SDK upgrade changes the internal API we depend on."""
    from importlib.metadata import version

    import polymarket._internal.environment as hook
    from polymarket import AsyncSecureClient
    from polymarket._internal.actions.account import build_update_balance_allowance_request
    from polymarket._internal.wallet import signature_type_for

    from live.venues.sdk_internal import SDK_VERSION

    assert version("polymarket-client") == SDK_VERSION
    assert callable(hook.create_environment) and callable(hook.get_environment_config)
    names = {f.name for f in dataclasses.fields(hook.PRODUCTION_CONFIG)}
    urls = {"gamma_url", "clob_url", "data_url", "relayer_url", "clob_market_ws_url",
            "clob_user_ws_url", "rtds_ws_url"}  # fmt: skip
    assert urls <= names
    replaced = dataclasses.replace(hook.PRODUCTION_CONFIG, clob_url="http://x/clob")
    env = hook.create_environment(name="guard", config=replaced)
    assert hook.get_environment_config(env).clob_url == "http://x/clob"
    path, params = build_update_balance_allowance_request(
        asset_type="COLLATERAL", signature_type=signature_type_for("EOA")
    )
    assert path == "/balance-allowance/update" and params["signature_type"] == 0
    for method in ("create_market_order", "create_limit_order", "post_order", "get_order",
                   "list_open_orders", "list_account_trades", "list_positions",
                   "get_balance_allowance", "send_order_heartbeat", "cancel_order",
                   "cancel_all"):  # fmt: skip
        assert callable(getattr(AsyncSecureClient, method)), method


# ------------------------------------------------------------------ no duplicate orders


class FakeVenue:
    """Counts posts; the first `fail` posts raise `error` AFTER (optionally) landing."""

    def __init__(self, fail: int, error: Exception, lands: bool) -> None:
        self.fail, self.error, self.lands = fail, error, lands
        self.posts = 0
        self.orders: list[str] = []

    async def post(self) -> Posted:
        self.posts += 1
        if self.lands or self.posts > self.fail:
            if not self.orders:
                self.orders.append("0xorder")
            elif self.posts > self.fail:
                return Posted(None, error="order 0xorder already exists")
        if self.posts <= self.fail:
            raise self.error
        return Posted("0xorder", "matched", ("t1",))

    async def lookup(self) -> Posted | None:
        return Posted(self.orders[0], "matched", via_lookup=True) if self.orders else None


async def _no_sleep(_: float) -> None:
    return None


def _run(fake: FakeVenue, retries: int = 3):
    return asyncio.run(
        post_without_duplicates(
            fake.post, fake.lookup, Backoff(retries, 0.01, 0.02), random.Random(1), _no_sleep
        )
    )


def test_a_timed_out_post_that_landed_is_found_by_lookup_not_reposted():
    fake = FakeVenue(fail=1, error=TransportError("read timeout"), lands=True)
    posted, notes = _run(fake)
    assert posted == Posted("0xorder", "matched", via_lookup=True)
    assert fake.posts == 1 and fake.orders == ["0xorder"]
    assert any("targeted lookup: found" in n for n in notes)


def test_a_5xx_post_that_did_not_land_is_reposted_once_after_lookup():
    fake = FakeVenue(fail=1, error=RequestRejectedError("boom", status=503), lands=False)
    posted, _ = _run(fake)
    assert posted == Posted("0xorder", "matched", ("t1",))
    assert fake.posts == 2 and fake.orders == ["0xorder"]


def test_a_venue_duplicate_answer_resolves_through_lookup():
    fake = FakeVenue(fail=0, error=RuntimeError(), lands=True)
    fake.orders.append("0xorder")
    posted, notes = _run(fake)
    assert posted is not None and posted.via_lookup and fake.posts == 1


def test_a_permanent_rejection_is_not_retried():
    fake = FakeVenue(fail=5, error=RequestRejectedError("not enough balance", status=400),
                     lands=False)  # fmt: skip
    posted, _ = _run(fake)
    assert posted == Posted(None, error="not enough balance", http_status=400) and fake.posts == 1


def test_persistent_ambiguity_ends_unknown_with_bounded_attempts():
    fake = FakeVenue(fail=99, error=TransportError("down"), lands=False)
    posted, notes = _run(fake, retries=2)
    assert posted is None and fake.posts == 3


def test_backoff_is_bounded_and_honours_retry_after():
    policy = Backoff(4, 0.2, 1.0)
    rng = random.Random(0)
    delays = [policy.delay(n, None, rng) for n in range(6)]
    assert all(0 <= d <= 1.0 for d in delays)
    assert policy.delay(0, 0.8, rng) >= 0.8 and policy.delay(0, 9.0, rng) == 1.0
