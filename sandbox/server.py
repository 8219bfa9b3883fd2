"""Run a sandbox: in a background thread (tests, benchmarks) or in the foreground (CLI)."""

from __future__ import annotations

import secrets
import socket
import threading
import time

import uvicorn

from sandbox.app import build_app
from sandbox.config import SandboxConfig
from sandbox.exchange import Exchange


class SandboxServer:
    """One exchange served by uvicorn on a pre-bound socket (port 0 picks a free port).
    `admin_token` guards the /_sandbox admin routes (faults, fund); random unless given."""

    def __init__(self, config: SandboxConfig, admin_token: str | None = None) -> None:
        self.config = config
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.exchange = Exchange(config)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((config.host, config.port))
        # Listening from here on: a client that read the URLs (`updown sandbox` prints them
        # before uvicorn starts) waits in the backlog instead of being refused.
        self._sock.listen(2048)
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://{config.host}:{self.port}"
        app = build_app(self.exchange, lambda: self.base_url, self.admin_token)
        self._server = uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", lifespan="on", ws_ping_interval=None, access_log=False
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header the /_sandbox admin routes require."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def rpc_url(self) -> str:
        """The Polygon JSON-RPC endpoint (the SDK's `rpc_url`). Not in `urls`, whose seven
        entries `updown sandbox` prints and bench/sandbox_load.py reads by count."""
        return f"{self.base_url}/rpc"

    @property
    def urls(self) -> dict[str, str]:
        ws = self.base_url.replace("http://", "ws://")
        return {
            "gamma": f"{self.base_url}/gamma",
            "clob": f"{self.base_url}/clob",
            "data": f"{self.base_url}/data",
            "relayer": f"{self.base_url}/relayer",
            "ws_market": f"{ws}/ws/market",
            "ws_user": f"{ws}/ws/user",
            "ws_prices": f"{ws}/ws/prices",
        }

    def run(self) -> None:
        """Serve in the calling thread until stopped."""
        self._server.run(sockets=[self._sock])

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._thread = threading.Thread(target=self.run, name="sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("sandbox did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
