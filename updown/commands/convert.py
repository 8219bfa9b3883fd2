"""`updown convert FORMAT INPUT -o OUTPUT`: public data formats → journal files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from live.convert import ConvertError, convert_to_journal
from updown.commands._common import fail


class Format(StrEnum):
    CHAINLINK = "chainlink"
    GAMMA_MARKETS = "gamma-markets"
    TOP_OF_BOOK = "top-of-book"
    POLYMARKET_WS = "polymarket-ws"


def convert_cmd(
    fmt: Format = typer.Argument(..., metavar="FORMAT", help="Input format."),
    source: Path = typer.Argument(..., metavar="INPUT", help="Input file (or directory)."),
    output: Path = typer.Option(
        ..., "-o", "--output", metavar="FILE", help="Journal to write (.gz: gzipped)."
    ),
    asset: str = typer.Option("BTC", metavar="ASSET", help="Asset of files that do not name it."),
    tz: str = typer.Option(
        "UTC", metavar="ZONE", help="IANA timezone of naive timestamps (top-of-book)."
    ),
    fee_rate: str = typer.Option(
        None, metavar="RATE", help="Taker fee rate for markets whose data does not state it."
    ),
) -> None:
    """Convert a public data file into a journal (JSON lines); nothing is written on bad input."""
    try:
        summary = convert_to_journal(
            fmt.value, source, output, asset=asset, tz=tz, fee_rate=fee_rate
        )
    except ConvertError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or source}: {exc.strerror or exc}")
    kinds = " ".join(f"{kind}={n}" for kind, n in sorted(summary.kinds.items()))
    typer.echo(f"wrote {summary.events} events to {summary.output} ({kinds})")
    if summary.skipped:
        skipped = " ".join(f"{kind}={n}" for kind, n in sorted(summary.skipped.items()))
        typer.echo(f"recognised without a journal kind: {skipped}")


def register(app: typer.Typer) -> None:
    app.command("convert")(convert_cmd)
