"""Load test of the sandbox over loopback: orders accepted and matched per second (pre-signed
by the real SDK, posted concurrently with L2 headers), and WebSocket messages per second fanned
out to 20 market-channel subscribers while those orders trade. Targets: >= 500 orders/s and
>= 5,000 msgs/s. Run: .venv/bin/python bench/sandbox_load.py [--orders 1500]"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import subprocess
import sys
import time

import httpx
import websockets
from eth_account import Account

from sandbox.auth import hmac_signature

SUBSCRIBERS = 20


def _environment(urls: dict):
    from polymarket._internal.environment import PRODUCTION_CONFIG, create_environment

    config = dataclasses.replace(
        PRODUCTION_CONFIG,
        clob_url=urls["clob"],
        gamma_url=urls["gamma"],
        data_url=urls["data"],
        relayer_url=urls["relayer"],
    )
    return create_environment(name="sandbox", config=config)


def _payload(signed, owner: str) -> str:
    order = {
        "salt": signed.salt,
        "maker": signed.maker,
        "signer": signed.signer,
        "tokenId": signed.token_id,
        "makerAmount": str(signed.maker_amount),
        "takerAmount": str(signed.taker_amount),
        "side": signed.side,
        "expiration": "0",
        "signatureType": signed.signature_type,
        "timestamp": str(signed.timestamp),
        "metadata": signed.metadata,
        "builder": signed.builder,
        "signature": signed.signature,
    }
    return json.dumps(
        {"order": order, "owner": owner, "orderType": "FAK", "deferExec": False},
        separators=(",", ":"),
    )


def prepare(server, n: int):
    from polymarket import SecureClient

    wallet = Account.create()
    client = SecureClient.create(
        private_key=wallet.key.hex(), wallet=wallet.address, environment=_environment(server.urls)
    )
    httpx.post(
        f"{server.base_url}/_sandbox/fund",
        json={"address": wallet.address, "usd": "1e7"},
        headers=server.admin_headers,
    ).raise_for_status()
    state = httpx.get(f"{server.base_url}/_sandbox/state").json()
    window = max(
        (w for w in state["windows"] if w["status"] == "open"),
        key=lambda w: (_balanced(server, w["token_up"]), w["close_ts"]),
    )
    bodies = []
    for _ in range(n):
        signed = client.create_limit_order(
            token_id=window["token_up"], price="0.99", size="1.02", side="BUY"
        )
        bodies.append(_payload(signed, client.credentials.key))
    return client, window, bodies


def _balanced(server, token: str) -> bool:
    mid = float(
        httpx.get(f"{server.base_url}/clob/midpoint", params={"token_id": token}).json()["mid"]
    )
    return 0.2 < mid < 0.8


def _headers(client, body: str) -> dict:
    creds, ts = client.credentials, str(int(time.time()))
    return {
        "POLY_ADDRESS": client.signer,
        "POLY_API_KEY": creds.key,
        "POLY_PASSPHRASE": creds.passphrase,
        "POLY_TIMESTAMP": ts,
        "POLY_SIGNATURE": hmac_signature(creds.secret, ts, "POST", "/order", body),
        "Content-Type": "application/json",
    }


async def _subscriber(url: str, token: str, counts: list, idx: int, stop: asyncio.Event):
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": [token]}))
        while not stop.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 0.5)
                counts[idx] += 1
            except TimeoutError:
                continue


async def run(server, client, window: dict, bodies: list[str], conc: int):
    counts = [0] * SUBSCRIBERS
    stop = asyncio.Event()
    subs = [
        asyncio.create_task(
            _subscriber(server.urls["ws_market"], window["token_up"], counts, i, stop)
        )
        for i in range(SUBSCRIBERS)
    ]
    await asyncio.sleep(1.0)
    base = sum(counts)
    queue = list(bodies)
    ok = 0
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.urls["clob"], timeout=30) as http:

        async def worker():
            nonlocal ok
            while queue:
                body = queue.pop()
                response = await http.post("/order", content=body, headers=_headers(client, body))
                good = response.status_code == 200 and response.json().get("success") is True
                ok += good
                if not good and len(errors) < 3:
                    errors.append(response.text[:200])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)
    messages = sum(counts) - base
    stop.set()
    await asyncio.gather(*subs, return_exceptions=True)
    return ok, elapsed, messages, elapsed + 0.5


class ExternalSandbox:
    """The sandbox in its own process (so the load generator does not share its GIL)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "updown.cli",
                "sandbox",
                "--port",
                "0",
                "--assets",
                "BTC",
                "--window-seconds",
                "300,900,3600",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        lines = dict(self.proc.stdout.readline().split() for _ in range(8))
        self.base_url = lines["state"].removesuffix("/_sandbox/state")
        self.urls = lines

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    server = ExternalSandbox()
    try:
        client, window, bodies = prepare(server, args.orders)
        ok, elapsed, messages, ws_window = asyncio.run(
            run(server, client, window, bodies, args.concurrency)
        )
    finally:
        server.stop()
    print(
        f"orders: {ok}/{len(bodies)} accepted+matched in {elapsed:.2f}s "
        f"= {ok / elapsed:,.0f} orders/s (target >= 500)"
    )
    print(
        f"websocket: {messages} msgs to {SUBSCRIBERS} subscribers in {ws_window:.2f}s "
        f"= {messages / ws_window:,.0f} msgs/s (target >= 5,000)"
    )


if __name__ == "__main__":
    main()
