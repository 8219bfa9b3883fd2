"""`updown sandbox`: run the local Polymarket stand-in until stopped."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer

from sandbox.config import SettlementRule
from updown.commands._common import fail


def sandbox_cmd(
    host: str = typer.Option("127.0.0.1", metavar="HOST", help="Interface to bind."),
    port: int = typer.Option(8701, metavar="PORT", help="Port (0 = any free port)."),
    seed: int = typer.Option(0, metavar="N", help="Seed of the price path and books."),
    assets: str = typer.Option("BTC,ETH,SOL,XRP", metavar="ASSETS", help="Comma list of assets."),
    window_seconds: str = typer.Option(
        "60,300", metavar="SECONDS", help="Comma list of window lengths, in seconds."
    ),
    settle_delay: float = typer.Option(
        30.0, metavar="SECONDS", help="Seconds from a window's close to its resolution."
    ),
    settlement_rule: SettlementRule = typer.Option(
        SettlementRule.SPOT_AT_CLOSE,
        metavar="[spot_at_close|twap_60s]",
        help="How the outcome is decided: the oracle price at close, or its 60 s average.",
    ),
    start_balance: str = typer.Option(
        "1000", metavar="USDC", help="USDC each new wallet starts with."
    ),
    admin_token: str | None = typer.Option(
        None,
        metavar="TOKEN",
        envvar="UPDOWN_SANDBOX_ADMIN_TOKEN",
        help="Token of the /_sandbox admin routes (faults, fund); random and printed if unset.",
    ),
) -> None:
    """Serve the sandbox exchange (Gamma, CLOB, Data API, WebSockets) and print its URLs."""
    from sandbox.config import ConfigError, SandboxConfig, parse_assets, parse_lengths
    from sandbox.server import SandboxServer

    balance = _usdc(start_balance)
    try:
        config = SandboxConfig(
            host=host,
            port=port,
            seed=seed,
            assets=parse_assets(assets),
            window_seconds=parse_lengths(window_seconds),
            settle_delay=settle_delay,
            settlement_rule=SettlementRule(settlement_rule),
            start_balance=balance,
        )
        server = SandboxServer(config, admin_token=admin_token)
    except (ConfigError, ValueError, ArithmeticError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot bind {host}:{port}: {exc}")
    for name, url in server.urls.items():
        typer.echo(f"{name:10s} {url}")
    typer.echo(f"{'state':10s} {server.base_url}/_sandbox/state")
    # Local testing only: faults and funding need this (Authorization: Bearer <token>).
    typer.echo(f"{'admin':10s} {server.admin_token}   (/_sandbox/faults, /_sandbox/fund)")
    server.run()


def _usdc(text: str) -> Decimal:
    """--start-balance as a finite, non-negative Decimal; exits 2 naming the flag otherwise."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        fail(f"--start-balance {text!r}: not a number")
    if not amount.is_finite() or amount < 0:
        fail(f"--start-balance {text!r}: must be a finite amount >= 0")
    return amount


def register(app: typer.Typer) -> None:
    app.command("sandbox")(sandbox_cmd)
