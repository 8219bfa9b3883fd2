"""The runner's health endpoint (FM24): GET /health returns the runner's status as JSON.
If the runner cannot serve it, it does not trade: `HealthServer.self_check()` is called by the
runner, and a failure trips the breaker; a dead server (its task ended, its port taken) is
restarted by the runner, and the breaker trip is lifted once it answers again (issue 15)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger(__name__)


class HealthServer:
    """Serves `status()` on http://host:port/health from the runner's own event loop."""

    def __init__(self, status: Callable[[], dict], host: str = "127.0.0.1", port: int = 8711):
        self._status = status
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    def app(self) -> Starlette:
        async def health(_: Request) -> JSONResponse:
            try:
                return JSONResponse(self._status())
            except Exception as exc:  # noqa: BLE001 - report, never crash the endpoint
                log.exception("health status failed")
                return JSONResponse({"status": "error", "error": str(exc)}, status_code=500)

        return Starlette(routes=[Route("/health", health)])

    @property
    def serving(self) -> bool:
        """The server task is alive (it may still fail to answer: see `self_check`)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app(), host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        # Bound here, not by uvicorn: a port taken is an OSError we handle, where uvicorn
        # would call sys.exit() inside the runner's loop.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise RuntimeError(
                f"health endpoint cannot bind {self.host}:{self.port}: {exc}"
            ) from exc
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # the runner owns signals
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="health-server")
        for _ in range(100):
            if self._server.started:
                return
            if self._task.done():
                break
            await asyncio.sleep(0.05)
        raise RuntimeError(f"health endpoint could not start on {self.host}:{self.port}")

    async def self_check(self, timeout: float = 2.0) -> bool:
        """True if the endpoint answers 200 over real HTTP."""
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(self.url)
            return response.status_code == 200
        except httpx.HTTPError:
            return False

    async def restart(self) -> bool:
        """Start a dead server again on the same port; False if it cannot (port still taken)."""
        await self.stop()
        try:
            await self.start()
        except RuntimeError as exc:
            log.warning("health endpoint restart failed: %s", exc)
            return False
        return True

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(self._task, 5)
