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
    path_start: int | None = typer.Option(
        None,
        metavar="UNIX_SECOND",
        help="Read the price path from this unix second on, whatever the time of day "
        "(reproducible runs); default: the wall clock's own second.",
    ),
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
    realism: str = typer.Option(
        "venue",
        metavar="[venue|instant]",
        help="venue: Polymarket as its users report it (resolution pays nothing until redeemed, "
        "trades CONFIRMED after seconds, Data API lag); instant: the old test-friendly venue.",
    ),
    auto_redeem_delay: float | None = typer.Option(
        None,
        metavar="SECONDS",
        help="Seconds after resolution the auto-redeem operator redeems approved accounts "
        "(default: the profile's, 60 in venue).",
    ),
    data_lag: float | None = typer.Option(
        None,
        metavar="SECONDS",
        help="How far Data API positions lag trades and redemptions (default: 10 in venue).",
    ),
    trade_mined: str | None = typer.Option(
        None, metavar="LOW,HIGH", help="Seconds from a match to MINED (default: 1,5 in venue)."
    ),
    trade_confirmed: str | None = typer.Option(
        None,
        metavar="LOW,HIGH",
        help="Seconds from a match to CONFIRMED (default: 2,15 in venue).",
    ),
    tx_confirmed: str | None = typer.Option(
        None,
        metavar="LOW,HIGH",
        help="Seconds from a transaction's submission to its confirmation (default: 4,12).",
    ),
) -> None:
    """Serve the sandbox exchange (Gamma, CLOB, Data API, WebSockets) and print its URLs."""
    from sandbox.config import (
        ConfigError,
        SandboxConfig,
        parse_assets,
        parse_lengths,
        parse_span,
    )
    from sandbox.server import SandboxServer

    balance = _usdc(start_balance)
    spans = {
        "trade_mined_seconds": ("--trade-mined", trade_mined),
        "trade_confirmed_seconds": ("--trade-confirmed", trade_confirmed),
        "tx_confirmed_seconds": ("--tx-confirmed", tx_confirmed),
    }
    realism_options: dict = {"auto_redeem_delay": auto_redeem_delay, "data_lag_seconds": data_lag}
    try:
        for name, (flag, text) in spans.items():
            realism_options[name] = None if text is None else parse_span(text, flag)
        if realism_options["tx_confirmed_seconds"] is not None:  # mined before it confirms
            low = realism_options["tx_confirmed_seconds"][0]
            realism_options["tx_mined_seconds"] = (low / 2, low)
        config = SandboxConfig(
            realism=realism,
            host=host,
            port=port,
            seed=seed,
            path_start=path_start,
            assets=parse_assets(assets),
            window_seconds=parse_lengths(window_seconds),
            settle_delay=settle_delay,
            settlement_rule=SettlementRule(settlement_rule),
            start_balance=balance,
            **realism_options,
        )
        server = SandboxServer(config, admin_token=admin_token)
    except (ConfigError, ValueError, ArithmeticError) as exc:
        message = str(exc)
        for field, flag in (
            ("auto_redeem_delay", "--auto-redeem-delay"),
            ("data_lag_seconds", "--data-lag"),
        ):
            message = message.replace(field, flag)
        fail(message)
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
