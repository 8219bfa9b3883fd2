"""`updown data import | export | ls`: recorded market data in the DB (research.store)."""

from __future__ import annotations

import sys
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
    """Import journal files (and public formats, converted) into market_events; idempotent and
    all or nothing: every file is read and checked before any is written."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from live.convert import ConvertError
    from live.journal.codec import JournalError
    from research import store
    from research.staging import stage_file

    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # on a terminal only, and cleared at the end: errors and the summary stay one line each
    bar = Progress("{task.description}", *columns, transient=True, disable=not sys.stderr.isatty())
    try:
        with bar:
            check = bar.add_task("check files", total=len(files))
            staged = []
            for path in files:  # every file read and checked before any is written
                staged.append(stage_file(Path(path), fmt))
                bar.advance(check)
            write = bar.add_task("write rows", total=sum(len(s.rows) for s in staged))
            with _connect() as conn:
                summaries = store.write_staged(
                    conn, staged, on_file=lambda s: bar.advance(write, s.rows)
                )
    except (ValueError, ConvertError, JournalError) as exc:
        fail(f"{exc} (nothing was imported)")
    for s in summaries:
        typer.echo(f"{s.path.name}: {s.fmt}, {s.rows} rows, {s.inserted} new")


@data_app.command("export")
def export_cmd(
    start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD) or ISO time."),
    end: str = typer.Option(..., "--to", help="Last day (inclusive) or ISO time."),
    assets: str = typer.Option(None, help="Comma list of assets (default: all)."),
    output: Path = typer.Option(..., "-o", "--output", help="Journal to write (.gz ok)."),
) -> None:
    """Write the range's market events as a journal file."""
    from research import store

    lo, hi = _range(start, end)
    wanted = _assets(assets)
    with _connect() as conn:
        try:
            n = store.export(conn, lo, hi, output, wanted)
        except OSError as exc:
            fail(f"-o {output}: cannot write it ({exc.strerror or exc})")
    typer.echo(f"wrote {n} events to {output}")


def _range(start: str, end: str) -> tuple[int, int]:
    """[--from, --to] in epoch ms; one line naming the flag if either is bad or they cross."""
    from research.data import day_range

    try:
        lo = day_range(start)[0]
    except ValueError as exc:
        fail(f"--from {start!r}: {exc}")
    try:
        hi = day_range(end)[1]
    except ValueError as exc:
        fail(f"--to {end!r}: {exc}")
    if hi <= lo:
        fail(f"--to {end} is not after --from {start}")
    return lo, hi


def _assets(assets: str | None) -> list[str] | None:
    """The --assets comma list, upper-cased; one line naming any that is no asset."""
    from live.kernel.domain import Asset

    if assets is None:
        return None
    names = [a.strip().upper() for a in assets.split(",")]
    unknown = sorted({a for a in names if a not in Asset.__members__})
    if unknown:
        known = ", ".join(Asset.__members__)
        fail(f"--assets: not an asset: {', '.join(map(repr, unknown))}; known: {known}")
    return names


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
