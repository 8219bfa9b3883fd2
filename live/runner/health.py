"""The runner's health endpoint (FM24): GET /health returns the runner's status as JSON.
If the runner cannot serve it, it does not trade: `HealthServer.self_check()` is called by the
runner, and a failure trips the breaker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app(), host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # the runner owns signals
        self._task = asyncio.create_task(self._server.serve(), name="health-server")
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

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(self._task, 5)
