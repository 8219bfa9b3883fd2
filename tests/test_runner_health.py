"""Issue 15, health endpoint death at run time: "cannot report => cannot trade". The server task
dies and its port is taken: the breaker trips and `health_down` is raised; the runner restarts the
endpoint once the port is free, and the trip is lifted when it answers again."""

from __future__ import annotations

import asyncio
import socket

import pytest
from runner_kit import (
    health,
    live_controls,
    make_runner,
    runner_config,
    running,
    start_sandbox,
    until,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-health")]


def test_a_dead_health_endpoint_trips_the_breaker_until_it_serves_again(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        runner = make_runner(db_url, runner_config(server.base_url))
        asyncio.run(_drive(runner))
    finally:
        server.stop()


async def _drive(runner) -> None:
    async with running(runner):
        breaker = runner.primary.engine.breaker
        assert not breaker.tripped
        endpoint = runner.health
        host, port = endpoint.host, endpoint.port
        endpoint._server.should_exit = True  # the server task dies
        await until(lambda: not endpoint.serving, timeout=5, what="health server task ended")
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # and its port is taken
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind((host, port))
        blocker.listen()  # another program serves there now (it never answers HTTP)
        try:
            await until(lambda: breaker.tripped, timeout=10, what="breaker tripped")
            assert "health endpoint does not answer" in breaker.reasons
            assert "health_down" in runner.alerter.kinds()
            assert runner.primary.engine.trading_state != "ACTIVE"
            await until(
                lambda: runner.role.health_failures >= 2, timeout=10, what="a failed restart"
            )
            assert breaker.tripped and not endpoint.serving
        finally:
            blocker.close()
        await until(lambda: not breaker.tripped, timeout=10, what="recovery")
        status = await health(runner)
        assert status["breaker"]["tripped"] is False and endpoint.port == port
