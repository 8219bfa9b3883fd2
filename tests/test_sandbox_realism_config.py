"""The realism profiles and their options (docs/sandbox.md, "Realism"), the seeded draws, and the
JSON-RPC endpoint's refusals (the node's answers to what it cannot take)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account

from sandbox.config import ConfigError, SandboxConfig, parse_span
from sandbox.realism import PROFILES, Realism, draw
from sandbox.records import Trade
from sandbox.wire import trade_event, trade_json
from sandbox_fixtures import *  # noqa: F403


def test_default_profile_is_venue_and_instant_keeps_the_old_behaviour():
    assert SandboxConfig().realism is Realism.VENUE  # issue 13: realism on by default
    assert SandboxConfig().payout_at_resolution is False
    config = SandboxConfig(realism="instant")
    assert config.realism is Realism.INSTANT
    assert config.payout_at_resolution is True
    assert config.data_lag_seconds == 0.0
    assert config.settled_spend_only is False
    assert config.trade_status_prefixed is False
    step = config.trade_step_seconds
    assert config.trade_mined_seconds == (step, step)
    assert config.trade_confirmed_seconds == (2 * step, 2 * step)


def test_venue_profile_takes_its_table_and_an_explicit_option_wins():
    venue = SandboxConfig(realism="venue")
    for name, value in PROFILES[Realism.VENUE].items():
        assert getattr(venue, name) == value, name
    assert venue.payout_at_resolution is False
    assert venue.trade_mined_seconds == (1.0, 5.0)
    assert venue.trade_confirmed_seconds == (2.0, 15.0)
    tuned = SandboxConfig(realism="venue", data_lag_seconds=2.5, payout_at_resolution=True)
    assert tuned.data_lag_seconds == 2.5 and tuned.payout_at_resolution is True


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"realism": "fast"}, "unknown realism 'fast'"),
        ({"trade_mined_seconds": (5, 1)}, "trade_mined_seconds must satisfy"),
        ({"hold_seconds": (1,)}, "hold_seconds must be a (low, high) pair"),
        ({"data_lag_seconds": -1}, "data_lag_seconds must be 0..3600"),
        ({"auto_redeem_delay": 4000}, "auto_redeem_delay must be 0..3600"),
    ],
)
def test_bad_realism_options_are_refused_naming_the_option(options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SandboxConfig(**options)


def test_span_flags_parse_to_pairs_and_bad_ones_name_the_option():
    assert parse_span("1,5") == (1.0, 5.0)
    assert parse_span("3") == (3.0, 3.0)
    for bad in ("a,b", "5,1", "1,2,3", "-1,2", "nan,1"):
        with pytest.raises(ConfigError, match="trade_mined_seconds"):
            parse_span(bad, "trade_mined_seconds")


def test_draws_are_a_pure_function_of_seed_stream_and_ordinal():
    span = (1.0, 5.0)
    first = [draw(7, "trade_mined", n, span) for n in range(50)]
    assert first == [draw(7, "trade_mined", n, span) for n in range(50)]
    assert first != [draw(8, "trade_mined", n, span) for n in range(50)]
    assert all(1.0 <= x <= 5.0 for x in first) and len(set(first)) == 50
    assert draw(7, "x", 3, (2.0, 2.0)) == 2.0


def test_rest_says_trade_status_prefixed_and_the_stream_plain():
    trade = Trade(
        id="t",
        owner="o",
        address="0xA",
        taker_order_id="0x1",
        condition_id="0xc",
        token="1",
        outcome="Up",
        side="BUY",
        price=Decimal("0.5"),
        size=Decimal(10),
        fee=Decimal(0),
        fee_rate_bps=Decimal(0),
        trader_side="TAKER",
        match_time=0,
        maker_order_id="0x2",
        maker_address="0xB",
        maker_owner="b",
        rest_prefix=True,
    )
    assert trade_json(trade)["status"] == "TRADE_STATUS_MATCHED"
    assert trade_event(trade, 0)["status"] == "MATCHED"


def _rpc(sandbox, method: str, *params):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return sandbox.http.post("/rpc", json=body).json()


def _signed(nonce: int, chain_id: int = 137, data: str = "0x") -> str:
    tx = {
        "to": "0xAdA100Db00Ca00073811820692005400218FcE1f",
        "value": 0,
        "data": data,
        "gas": 200_000,
        "gasPrice": 30 * 10**9,
        "nonce": nonce,
        "chainId": chain_id,
    }
    return "0x" + Account.create().sign_transaction(tx).raw_transaction.hex()


def test_rpc_node_answers_chain_id_and_refuses_what_it_cannot_take(sandbox):
    assert _rpc(sandbox, "eth_chainId")["result"] == "0x89"
    assert _rpc(sandbox, "eth_mining")["error"]["code"] == -32601
    assert "error" in _rpc(sandbox, "eth_sendRawTransaction", "0xdeadbeef")
    approve = "0x095ea7b3" + "00" * 64  # approve(address(0), 0)
    wrong_chain = _rpc(sandbox, "eth_sendRawTransaction", _signed(0, 1, approve))
    assert "invalid chain id 1" in wrong_chain["error"]["message"]
    too_high = _rpc(sandbox, "eth_sendRawTransaction", _signed(3, data=approve))
    assert "nonce too high" in too_high["error"]["message"]
    unknown = _rpc(sandbox, "eth_sendRawTransaction", _signed(0, data="0x12345678"))
    assert unknown["error"]["code"] == 3 and "not supported" in unknown["error"]["message"]
    accepted = _rpc(sandbox, "eth_sendRawTransaction", _signed(0, data=approve))
    assert accepted["result"].startswith("0x") and len(accepted["result"]) == 66
    batch = sandbox.http.post("/rpc", json=[{"jsonrpc": "2.0", "id": 5, "method": "eth_chainId"}])
    assert batch.json() == [{"jsonrpc": "2.0", "id": 5, "result": "0x89"}]
    assert sandbox.http.post("/rpc", content=b"{").json()["error"]["code"] == -32700
