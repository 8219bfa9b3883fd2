"""`updown sweep screen | grid`: parameter sweeps (research.screen, research.sweep); every cell
is logged as a trial. Every flag is checked before the data is read or anything is written."""

from __future__ import annotations

from pathlib import Path

import typer

from updown.commands._common import (
    FILL_MODEL_HELP,
    FillModel,
    day_range_of,
    fail,
    no_windows,
)

sweep_app = typer.Typer(help="Parameter sweeps: a fast screen and event-driven grids on Dask.",
                        no_args_is_help=True)  # fmt: skip

FROM = typer.Option(..., "--from", metavar="DAY", help="First day (YYYY-MM-DD) or ISO time.")
TO = typer.Option(None, "--to", metavar="DAY", help="Last day, inclusive (default: --from).")
DATA = typer.Option([], metavar="FILE", help="Read these files instead of the DB (repeatable).")


def parse_offsets(text: str) -> list[int]:
    """`30,60,120` -> [30, 60, 120]: whole seconds before close, each > 0; exits 2 otherwise."""
    try:
        offsets = [int(part) for part in _parts(text)]
    except ValueError:
        fail(f"--offsets {text!r}: must be a comma list of whole seconds, e.g. 30,60,120")
    if not offsets or any(o <= 0 for o in offsets):
        fail(f"--offsets {text!r}: must be a comma list of whole seconds > 0, e.g. 30,60,120")
    return offsets


def parse_min_prices(text: str) -> list[float]:
    """`0.5,0.6` -> [0.5, 0.6]: favourite prices strictly between 0 and 1; exits 2 otherwise."""
    try:
        prices = [float(part) for part in _parts(text)]
    except ValueError:
        fail(f"--min-prices {text!r}: must be a comma list of prices, e.g. 0.5,0.6")
    if not prices or any(not 0 < p < 1 for p in prices):
        fail(f"--min-prices {text!r}: every price must be between 0 and 1 (exclusive)")
    return prices


def _parts(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _rows(conn, data: list[Path], lo: int, hi: int):
    from live.convert import ConvertError
    from research import store
    from research.sources import file_rows

    if not data:
        return store.fetch_rows(conn, lo, hi)
    rows = []
    for path in data:
        if not path.is_file():
            fail(f"--data {path}: no such file")
        try:
            rows.extend(file_rows(path))
        except (ValueError, ConvertError) as exc:
            fail(f"--data {path}: {exc}")
    return sorted(rows, key=lambda r: r[0])


@sweep_app.command("screen")
def screen_cmd(
    strategy: str = typer.Argument(
        "canary", help="The rule the screen evaluates: only the canary's (or an alias of it)."
    ),
    start: str = FROM,
    end: str = TO,
    offsets: str = typer.Option(
        "30,60,120,300",
        metavar="SECONDS",
        help="Entry offsets: comma list of seconds before close.",
    ),
    min_prices: str = typer.Option(
        "0.5,0.6,0.7,0.8", metavar="PRICES", help="Minimum favourite price: comma list in (0, 1)."
    ),
    data: list[Path] = DATA,
) -> None:
    """SCREEN (vectorised, window-level; not the event-driven truth) over offsets × min price."""
    lo, hi = day_range_of(start, end)
    offsets_s, prices = parse_offsets(offsets), parse_min_prices(min_prices)
    from live.store import db
    from research.data import build_dataset
    from research.screen import screen
    from research.sweep import SCREEN_RULE, log_screen
    from strategies import UnknownStrategy, get_strategy

    try:
        rule = get_strategy(strategy).name
    except UnknownStrategy as exc:
        fail(str(exc))
    if rule != SCREEN_RULE:
        fail(
            f"the screen evaluates only the {SCREEN_RULE} rule (favourite at an offset before "
            f"close), not {strategy}: run `updown sweep grid {strategy}` for its own rule"
        )

    with db.connect() as conn:
        dataset = build_dataset(_rows(conn, data, lo, hi), lo, hi)
        if not dataset.windows:
            no_windows(start, end, data)
        frame = screen(dataset, offsets_s, prices)
        sweep_id = log_screen(conn, frame, lo, hi, rule)
    typer.echo("SCREEN (window-level approximation, not the event-driven truth):")
    typer.echo(frame.to_string(index=False))
    typer.echo(f"{len(frame)} trials logged under {sweep_id}")


@sweep_app.command("grid")
def grid_cmd(
    strategy: str = typer.Argument(..., help="Strategy name or alias."),
    start: str = FROM,
    end: str = TO,
    param: list[str] = typer.Option(
        ..., metavar="KEY=V1,V2", help="A grid axis: parameter and its values (repeatable)."
    ),
    fill_model: FillModel = typer.Option(
        FillModel.BOOK,
        metavar="[book|conservative]",
        help=FILL_MODEL_HELP,
    ),  # fmt: skip
    workers: int = typer.Option(
        1, metavar="N", help="Start a Dask LocalCluster with N worker processes."
    ),
    scheduler: str = typer.Option(
        None, metavar="URL", help="Use an existing Dask scheduler (tcp://...)."
    ),
    data: list[Path] = DATA,
) -> None:
    """Event-driven grid: every cell is a full backtest through the live engine, on Dask."""
    from research.sweep import METRICS, parse_grid, run_grid
    from strategies.params import ParamError

    lo, hi = day_range_of(start, end)
    try:
        grid = parse_grid(param)
    except ValueError as exc:
        fail(str(exc))
    from live.store import db

    with db.connect() as conn:
        rows = _rows(conn, data, lo, hi)
        if not any(row[3].get("kind") == "window" for row in rows):
            no_windows(start, end, data)
        try:
            sweep_id, cells = run_grid(strategy, rows, lo, hi, grid, fill_model=fill_model.value,
                                       workers=workers, scheduler=scheduler, conn=conn)  # fmt: skip
        except ParamError as exc:
            fail(str(exc))
    for params, metrics in cells:
        shown = ", ".join(f"{k}={metrics[k]}" for k in METRICS if k in ("trades", "pnl_net"))
        typer.echo(f"{params}: {shown}")
    typer.echo(f"{len(cells)} event-driven trials logged under {sweep_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")
