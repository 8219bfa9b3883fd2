"""`updown data import | export | ls`: recorded market data in the DB (research.store)."""

from __future__ import annotations

from pathlib import Path

import typer

from updown.commands._common import fail

data_app = typer.Typer(help="Recorded market data: import, export, list.", no_args_is_help=True)


def _connect():
    from live.store import db

    return db.connect()


@data_app.command("import")
def import_cmd(
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="Journals or public files."),
    fmt: str = typer.Option(
        None,
        "--format",
        help="journal|chainlink|gamma-markets|top-of-book|polymarket-ws "
        "(default: from the file name).",
    ),  # fmt: skip
) -> None:
    """Import journal files (and public formats, converted) into market_events; idempotent."""
    from live.convert import ConvertError
    from live.journal.codec import JournalError
    from research import store

    with _connect() as conn:
        for path in files:
            if not path.exists():
                fail(f"{path}: no such file")
            try:
                s = store.import_file(conn, path, fmt)
            except (ValueError, ConvertError, JournalError) as exc:
                fail(str(exc))
            typer.echo(f"{path.name}: {s.fmt}, {s.rows} rows, {s.inserted} new")


@data_app.command("export")
def export_cmd(
    start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD) or ISO time."),
    end: str = typer.Option(..., "--to", help="Last day (inclusive) or ISO time."),
    assets: str = typer.Option(None, help="Comma list of assets (default: all)."),
    output: Path = typer.Option(..., "-o", "--output", help="Journal to write (.gz ok)."),
) -> None:
    """Write the range's market events as a journal file."""
    from research import store
    from research.data import day_range

    lo, hi = _range(day_range, start, end)
    with _connect() as conn:
        n = store.export(conn, lo, hi, output, assets.split(",") if assets else None)
    typer.echo(f"wrote {n} events to {output}")


def _range(day_range, start: str, end: str) -> tuple[int, int]:
    try:
        return day_range(start, end)
    except ValueError as exc:
        fail(f"bad date: {exc}")


@data_app.command("ls")
def ls_cmd() -> None:
    """Days, assets, windows, feeds and gaps in the DB."""
    from research import store

    with _connect() as conn:
        info = store.listing(conn)
    typer.echo("feeds (day, source, rows, assets):")
    for day, source, n, assets in info["feeds"]:
        typer.echo(f"  {day} {source:<12} {n:>8}  {','.join(a for a in assets or [] if a)}")
    typer.echo("windows (day, asset, windows, resolved):")
    for day, asset, n, resolved in info["windows"]:
        typer.echo(f"  {day} {asset:<4} {n:>5} {resolved:>5}")
    typer.echo("oracle gaps > 5 s (day, source, count, longest):")
    for day, source, n, longest in info["gaps"]:
        typer.echo(f"  {day} {source:<12} {n:>5}  longest {float(longest) / 1000:.0f} s")
    typer.echo(f"feed_gaps recorded by runners: {info['recorded_gaps']}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
