"""`updown run` (the shared live runner) and `updown status` (its health)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal

import httpx
import typer
from pydantic import ValidationError

from live.runner.config import RunMode, RunnerConfig
from live.runner.lock import new_instance_id
from live.store.db import database_url
from live.venues.config import VenueConfig
from live.venues.errors import CredentialError
from updown.commands._common import fail

ASSETS = "BTC,ETH,SOL,XRP"


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_config(**options) -> RunnerConfig:
    """The validated runner config; any bad value exits 2 with the field named."""
    try:
        return RunnerConfig(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        fail(f"invalid runner option {where}: {message}" if where else message)


def run(
    mode: RunMode = typer.Option(..., "--mode", help="live, paper or dry-run"),
    venue: str = typer.Option(..., "--venue", help="sandbox or polymarket"),
    sandbox_url: str | None = typer.Option(None, "--sandbox-url"),
    strategies: str = typer.Option("canary", "--strategies", help="comma list"),
    assets: str = typer.Option(ASSETS, "--assets", help="comma list"),
    window_seconds: str = typer.Option("300,900", "--window-seconds", help="window lengths"),
    duration: float | None = typer.Option(None, "--duration", help="seconds, then stop"),
    health_port: int = typer.Option(8711, "--health-port"),
    copies: str = typer.Option("", "--copies", help="simulated engines beside: paper,dry-run"),
    balance: str = typer.Option("100", "--paper-balance", help="PAPER/DRY_RUN start balance"),
) -> None:
    """Run the shared live runner until SIGINT/SIGTERM or --duration."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        lengths = tuple(int(x) for x in _split(window_seconds))
    except ValueError:
        fail(f"--window-seconds {window_seconds!r}: must be a comma list of whole seconds")
    config = build_config(
        mode=mode,
        venue=venue,
        sandbox_url=sandbox_url,
        strategies=_split(strategies),
        assets=_split(assets.upper()),
        window_lengths_s=lengths,
        duration_s=duration,
        health_port=health_port,
        copies=_split(copies),
        paper_balance_usd=balance,
        instance_id=new_instance_id(),
    )
    try:  # credentials first: a missing or malformed key fails before any connection
        venue_config = VenueConfig.from_env(
            config.venue, sandbox_url=config.sandbox_url, require_key=config.mode is RunMode.LIVE
        )
    except CredentialError as exc:
        fail(str(exc))
    _check_strategies(config)
    raise typer.Exit(asyncio.run(_main(config, venue_config)))


def _check_strategies(config: RunnerConfig) -> None:
    from strategies import UnknownStrategy, resolve

    try:
        resolve(list(config.strategies))
    except UnknownStrategy as exc:
        fail(exc.args[0] if exc.args else str(exc))


async def _main(config: RunnerConfig, venue_config: VenueConfig) -> int:
    from live.alerts.alerter import Alerter
    from live.runner.runner import HealthUnavailable, Runner
    from live.venues.polymarket import PolymarketVenue

    url = database_url()
    alerter = Alerter(url)
    await alerter.start()
    runner = Runner(config, url, PolymarketVenue(venue_config), alerter)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.request_stop)
    try:
        return await runner.run()
    except HealthUnavailable as exc:
        typer.echo(f"error: {exc}; refusing to trade", err=True)
        return 3
    finally:
        await alerter.stop()


def status(
    url: str = typer.Option("http://127.0.0.1:8711/health", "--url", help="health endpoint"),
) -> None:
    """Print the health of a running runner (exit 1 if it cannot be reached)."""
    try:
        body = httpx.get(url, timeout=3).json()
    except (httpx.HTTPError, ValueError) as exc:
        typer.echo(f"error: runner health at {url} unreachable: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(body, indent=2, sort_keys=True))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("status")(status)
