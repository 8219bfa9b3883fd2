"""`updown sweep screen | grid`: parameter sweeps (research.screen, research.sweep); every cell
is logged as a trial."""

from __future__ import annotations

from pathlib import Path

import typer

from updown.commands._common import fail

sweep_app = typer.Typer(help="Parameter sweeps: a fast screen and event-driven grids on Dask.",
                        no_args_is_help=True)  # fmt: skip


def _rows(conn, data: list[Path], start: str, end: str | None):
    from research import store
    from research.data import day_range
    from research.sources import file_rows

    lo, hi = day_range(start, end or start)
    if data:
        rows = sorted((r for p in data for r in file_rows(p)), key=lambda r: r[0])
    else:
        rows = store.fetch_rows(conn, lo, hi)
    return rows, lo, hi


@sweep_app.command("screen")
def screen_cmd(
    strategy: str = typer.Argument("canary", help="Strategy the screen approximates."),
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(None, "--to"),
    offsets: str = typer.Option("30,60,120,300", help="Entry offsets, seconds before close."),
    min_prices: str = typer.Option("0.5,0.6,0.7,0.8", help="Minimum favourite price."),
    data: list[Path] = typer.Option([], help="Read these files instead of the DB."),
) -> None:
    """SCREEN (vectorised, window-level; not the event-driven truth) over offsets × min price."""
    from live.store import db
    from research.data import build_dataset
    from research.screen import screen
    from research.sweep import log_screen

    with db.connect() as conn:
        rows, lo, hi = _rows(conn, data, start, end)
        dataset = build_dataset(rows, lo, hi)
        frame = screen(dataset, [int(x) for x in offsets.split(",")],
                       [float(x) for x in min_prices.split(",")])  # fmt: skip
        sweep_id = log_screen(conn, strategy, frame, lo, hi)
    typer.echo("SCREEN (window-level approximation, not the event-driven truth):")
    typer.echo(frame.to_string(index=False))
    typer.echo(f"{len(frame)} trials logged under {sweep_id}")


@sweep_app.command("grid")
def grid_cmd(
    strategy: str = typer.Argument(...),
    start: str = typer.Option(..., "--from"),
    end: str = typer.Option(None, "--to"),
    param: list[str] = typer.Option(..., help="k=v1,v2,... (repeatable); the grid."),
    fill_model: str = typer.Option("book"),
    workers: int = typer.Option(1, help="Start a Dask LocalCluster with N worker processes."),
    scheduler: str = typer.Option(None, help="Use an existing Dask scheduler (tcp://...)."),
    data: list[Path] = typer.Option([], help="Read these files instead of the DB."),
) -> None:
    """Event-driven grid: every cell is a full backtest through the live engine, on Dask."""
    from live.store import db
    from research.sweep import METRICS, parse_grid, run_grid

    try:
        grid = parse_grid(param)
    except ValueError as exc:
        fail(str(exc))
    with db.connect() as conn:
        rows, lo, hi = _rows(conn, data, start, end)
        sweep_id, cells = run_grid(strategy, rows, lo, hi, grid, fill_model=fill_model,
                                   workers=workers, scheduler=scheduler, conn=conn)  # fmt: skip
    for params, metrics in cells:
        shown = ", ".join(f"{k}={metrics[k]}" for k in METRICS if k in ("trades", "pnl_net"))
        typer.echo(f"{params}: {shown}")
    typer.echo(f"{len(cells)} event-driven trials logged under {sweep_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")
