"""No 500 and no server-side traceback for any request to the sandbox: every HTTP route the app
serves (read from the app itself, so a new route is fuzzed without editing this file), with its
path parameters, query parameters and body generated from real values (the open window's slug,
tokens and condition, our orders) and arbitrary text, bytes and JSON; the authenticated CLOB
routes both unsigned and correctly L2-signed (so the fuzz reaches the handler, not only the
auth check). And every WebSocket channel, sent generated subscribe frames. Each answer is a
venue-style 2xx/4xx; the server logs no unhandled exception and still answers afterwards.
Budgets: tests/fuzz_kit.py."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import quote

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client as ws_client
from fuzz_kit import JSON, deep_mutated, fuzz, mutated, tally
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.routing import Route

from sandbox.auth import hmac_signature
from sandbox.config import SandboxConfig
from sandbox_fixtures import SandboxHandle, running_sandbox

pytestmark = pytest.mark.xdist_group("sandbox-fuzz")


class Unhandled(logging.Handler):
    """Collects the records of exceptions the server did not handle (uvicorn logs them)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Target:
    """The running sandbox, one signed-in account, and the real values requests draw from."""

    def __init__(self, handle: SandboxHandle) -> None:
        self.handle = handle
        self.http = httpx.Client(base_url=handle.base_url, timeout=20)
        wallet = handle.new_wallet()
        handle.client(wallet)  # signs in: the venue now holds an API key for the wallet
        self.address = wallet.address
        keys = handle.server.exchange.keys
        self.creds = next(c for c in keys.values() if c.address.lower() == self.address.lower())
        handle.fund(self.creds.address, "100")
        window = handle.open_window(min_left=0.0)
        self.slug = window["slug"]
        self.tokens = [window["token_up"], window["token_down"]]
        self.condition = window["condition_id"]
        app = handle.server._server.config.app
        self.routes = sorted(
            (r.path, m) for r in app.routes if isinstance(r, Route) for m in r.methods - {"HEAD"}
        )

    def signed(self, method: str, path: str, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        text = body.decode("utf-8", "replace")
        sig = hmac_signature(self.creds.secret, ts, method, path.removeprefix("/clob"), text)
        return {
            "POLY_ADDRESS": self.creds.address,
            "POLY_SIGNATURE": sig,
            "POLY_TIMESTAMP": ts,
            "POLY_API_KEY": self.creds.key,
            "POLY_PASSPHRASE": self.creds.passphrase,
        }


@pytest.fixture(scope="module")
def target():
    logger = logging.getLogger("uvicorn.error")
    unhandled = Unhandled()
    logger.addHandler(unhandled)
    config = SandboxConfig(port=0, seed=11, assets=("BTC",), window_seconds=(60,))
    with running_sandbox(config) as handle:  # instant realism: the fuzz is about the answers
        target = Target(handle)
        target.unhandled = unhandled
        yield target
        target.http.close()
    logger.removeHandler(unhandled)


def _state_values(target: Target) -> st.SearchStrategy[str]:
    odd = ["COLLATERAL", "CONDITIONAL", "BUY", "SELL", "0", "1", "100", "MA==", "LTE=", "-1", "NaN"]
    real = [target.slug, target.condition, *target.tokens, target.creds.address, *odd]
    return st.one_of(st.sampled_from(real), st.text(max_size=16))


PARAMS = ["token_id", "side", "slug", "address", "ids", "user", "status", "condition_id", "kind",
          "id", "market", "asset_id", "next_cursor", "after", "before", "asset_type", "limit",
          "closed", "tag", "signature_type"]  # fmt: skip


@st.composite
def requests(draw, target: Target) -> tuple[str, str, dict, bytes, bool]:
    values = _state_values(target)
    path, method = draw(st.sampled_from(target.routes))
    for name in [p.split("}")[0] for p in path.split("{")[1:]]:
        path = path.replace("{" + name + "}", quote(draw(values), safe=""))
    query = draw(st.dictionaries(st.sampled_from(PARAMS), values, max_size=4))
    token = draw(st.sampled_from(target.tokens))
    shapes = [
        {"token_id": token},
        [{"token_id": token}],
        {"orderID": "0x1"},
        ["0x1", "0x2"],
        {"market": target.condition, "asset_id": token},
        {"address": target.creds.address, "usd": "5"},
        {"kind": "latency", "ms": 1},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"type": "SAFE", "data": "0x", "to": "0x0", "from": target.creds.address},
    ]
    body = draw(
        st.one_of(
            st.just(b""),
            st.sampled_from(shapes).flatmap(deep_mutated).map(lambda o: json.dumps(o).encode()),
            st.sampled_from(shapes[:1]).flatmap(mutated).map(lambda o: json.dumps(o).encode()),
            JSON.map(lambda o: json.dumps(o).encode()),
            st.binary(max_size=24),
        )
    )
    return method, path, query, body, draw(st.booleans())


def _check_alive(target: Target) -> None:
    """No unhandled exception so far (its answer shows the server still serves)."""
    assert not target.unhandled.records, target.unhandled.records[0].getMessage()


@fuzz(sample=60, campaign=5_000)
@given(data=st.data())
@example(data=None)
def test_every_http_route_answers_without_a_500(target, data):
    tally("sandbox http routes")
    if data is None:  # the routes that crashed before, first
        cases = [
            ("GET", "/clob/data/trades", {"after": "x"}, b"", True),
            ("POST", "/clob/books", {}, b"[1]", False),
            ("POST", "/clob/order", {}, b"\xff", True),
            ("POST", "/_sandbox/fund", {}, b'{"address": "0x1", "usd": "NaN"}', False),
            ("POST", "/_sandbox/fund", {}, b'{"address": "0x1", "usd": "1e999999"}', False),
        ]
    else:
        cases = [data.draw(requests(target))]
    for method, path, query, body, sign in cases:
        headers = target.signed(method, path, body) if sign else {}
        response = target.http.request(method, path, params=query, content=body, headers=headers)
        assert response.status_code < 500, (method, path, query, body, response.text)
        if path.startswith("/_sandbox/faults"):
            target.http.delete("/_sandbox/faults")  # an injected fault must not outlive its case
        _check_alive(target)


FRAMES = {
    "market": {"assets_ids": ["T"], "type": "market", "custom_feature_enabled": True},
    "user": {"auth": {"apiKey": "k", "secret": "s", "passphrase": "p"}, "markets": ["0xc"],
             "type": "user"},
    "prices": {"action": "subscribe", "subscriptions": [{"topic": "crypto_prices",
                                                         "type": "update"}]},
}  # fmt: skip


@fuzz(sample=30, campaign=2_000)
@given(
    channel=st.sampled_from(sorted(FRAMES)),
    frames=st.lists(
        st.one_of(
            st.sampled_from(sorted(FRAMES)).flatmap(lambda c: mutated(FRAMES[c])).map(json.dumps),
            JSON.map(json.dumps),
            st.text(max_size=20),
            st.sampled_from(["PING", "ping", "", "[]", "{}"]),
        ),
        min_size=1,
        max_size=3,
    ),
)
@example("market", ['{"assets_ids": 5}'])  # crashed: iterating a number
@example("user", ['{"markets": 1}'])
@example("prices", ['{"subscriptions": "x"}'])
def test_every_websocket_channel_survives_any_frame(target, channel, frames):
    tally("sandbox websockets")
    url = target.handle.urls[f"ws_{channel}"]
    try:
        with ws_client.connect(url, open_timeout=10, close_timeout=10) as socket:
            for frame in frames:
                socket.send(frame)
            socket.send("PING")  # the connection still serves: PONG comes (after any books)
            deadline = time.monotonic() + 10
            while socket.recv(timeout=max(0.1, deadline - time.monotonic())) != "PONG":
                pass
    except websockets.exceptions.ConnectionClosed as closed:
        # the venue may close a socket (bad auth: 4001), never drop it or fail (1011)
        assert closed.rcvd is not None and closed.rcvd.code != 1011, closed
    _check_alive(target)


def test_the_sandbox_still_serves_after_the_fuzz(target):
    """Runs after the fuzz (same module, in order): the venue still answers and trades."""
    assert target.http.get("/clob/time").status_code == 200
    state = target.http.get("/_sandbox/state").json()
    assert any(w["status"] == "open" for w in state["windows"])
    _check_alive(target)
