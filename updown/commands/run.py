"""`updown run`: the shared live runner."""

from __future__ import annotations

import asyncio
import logging
import signal
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from updown.commands._common import fail

if TYPE_CHECKING:
    from live.runner.config import RunnerConfig
    from live.venues.config import VenueConfig

ASSETS = "BTC,ETH,SOL,XRP"


class Mode(StrEnum):
    LIVE = "live"
    PAPER = "paper"
    DRY_RUN = "dry-run"


class Venue(StrEnum):
    SANDBOX = "sandbox"
    POLYMARKET = "polymarket"


class Redemption(StrEnum):
    REDEEM = "redeem"
    AUTO = "auto"
    AT_RESOLUTION = "at-resolution"


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_config(**options) -> RunnerConfig:
    """The validated runner config; any bad value exits 2 with the field named."""
    from pydantic import ValidationError

    from live.runner.config import RunnerConfig

    try:
        return RunnerConfig(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        fail(f"invalid runner option {where}: {message}" if where else message)


def run(
    mode: Mode = typer.Option(
        ...,
        "--mode",
        metavar="[live|paper|dry-run]",
        help="How the primary engine trades: real orders, simulated fills, or decisions only.",
    ),
    venue: Venue = typer.Option(
        ...,
        "--venue",
        metavar="[sandbox|polymarket]",
        help="Where market data comes from and (live) orders go.",
    ),
    sandbox_url: str | None = typer.Option(
        None, "--sandbox-url", metavar="URL", help="Base URL of `updown sandbox` (--venue sandbox)."
    ),
    strategies: str = typer.Option(
        "canary", "--strategies", metavar="NAMES", help="Comma list of strategy names or aliases."
    ),
    assets: str = typer.Option(ASSETS, "--assets", metavar="ASSETS", help="Comma list of assets."),
    window_seconds: str = typer.Option(
        "300,900",
        "--window-seconds",
        metavar="SECONDS",
        help="Comma list of window lengths to trade, in seconds.",
    ),
    duration: float | None = typer.Option(
        None,
        "--duration",
        metavar="SECONDS",
        help="Stop after this many seconds (default: run until SIGINT/SIGTERM).",
    ),
    health_port: int = typer.Option(
        8711, "--health-port", metavar="PORT", help="Port of /health (0 = any free port)."
    ),
    copies: str = typer.Option(
        "",
        "--copies",
        metavar="MODES",
        help="Simulated engines beside the primary on the same data: paper,dry-run.",
    ),
    balance: str = typer.Option(
        "100", "--paper-balance", metavar="USD", help="Start balance of PAPER/DRY_RUN engines."
    ),
    redemption: Redemption = typer.Option(
        Redemption.REDEEM,
        "--redemption",
        metavar="[redeem|auto|at-resolution]",
        help="How resolved LIVE positions become cash: we redeem them through the SDK, the "
        "venue's auto-redeem operator does (approved on the account), or the venue pays at "
        "resolution (the sandbox's instant profile).",
    ),
    redeem_bound: float = typer.Option(
        180.0,
        "--redeem-bound",
        metavar="SECONDS",
        help="Alert, and fail assertion 5, when a resolved position is not redeemed this long "
        "after its resolution.",
    ),
    settle_bound: float = typer.Option(
        60.0,
        "--settle-bound",
        metavar="SECONDS",
        help="Alert, and fail assertion 2, when a matched trade is not CONFIRMED this long after.",
    ),
) -> None:
    """Run the shared live runner until SIGINT/SIGTERM or --duration."""
    from live.runner.lock import new_instance_id

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        lengths = tuple(int(x) for x in _split(window_seconds))
    except ValueError:
        lengths = ()
    if not lengths:
        fail(f"--window-seconds {window_seconds!r}: must be a comma list of whole seconds")
    config = build_config(
        mode=mode.value,
        venue=venue.value,
        sandbox_url=sandbox_url,
        strategies=_split(strategies),
        assets=_split(assets.upper()),
        window_lengths_s=lengths,
        duration_s=duration,
        health_port=health_port,
        copies=_split(copies),
        paper_balance_usd=balance,
        redemption=redemption.value,
        redeem_bound_s=redeem_bound,
        settle_bound_s=settle_bound,
        instance_id=new_instance_id(),
    )
    venue_config = _venue_config(config)
    _check_strategies(config)
    raise typer.Exit(asyncio.run(_main(config, venue_config)))


def _venue_config(config: RunnerConfig) -> VenueConfig:
    """Credentials first: a missing or malformed key fails before any connection."""
    from live.runner.config import RunMode
    from live.venues.config import VenueConfig
    from live.venues.errors import CredentialError

    try:
        return VenueConfig.from_env(
            config.venue, sandbox_url=config.sandbox_url, require_key=config.mode is RunMode.LIVE
        )
    except CredentialError as exc:
        fail(str(exc))


def _check_strategies(config: RunnerConfig) -> None:
    from strategies import UnknownStrategy, resolve

    try:
        resolve(list(config.strategies))
    except UnknownStrategy as exc:
        fail(exc.args[0] if exc.args else str(exc))


async def _main(config: RunnerConfig, venue_config: VenueConfig) -> int:
    from live.alerts.alerter import Alerter
    from live.runner.runner import HealthUnavailable, Runner
    from live.store.db import database_url
    from live.venues.errors import VenueError
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
    except VenueError as exc:  # e.g. the venue does not answer at start: nothing was traded
        typer.echo(f"error: venue {config.venue}: {exc}", err=True)
        return 1
    finally:
        await alerter.stop()


def register(app: typer.Typer) -> None:
    app.command("run")(run)
