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
    """The rows with their events built (research.cache.EventRow): the database's range (through
    the research cache) or the --data files (not cached)."""
    from live.convert import ConvertError
    from research import cache, store
    from research.sources import file_rows

    if not data:
        return store.fetch_events(conn, lo, hi)
    rows = []
    for path in data:
        if not path.is_file():
            fail(f"--data {path}: no such file")
        try:
            rows.extend(cache.parsed(file_rows(path)))
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
        None, metavar="N", help="Dask LocalCluster of N worker processes (default: every core)."
    ),
    scheduler: str = typer.Option(
        None, metavar="ADDRESS", help="Use an existing Dask scheduler (tcp://host:8786)."
    ),
    scheduler_file: Path = typer.Option(
        None,
        metavar="FILE",
        help="Use the scheduler that wrote FILE (dask scheduler --scheduler-file).",
    ),
    objective: str = typer.Option(
        "pnl_net",
        metavar="METRIC",
        help="Rank cells by this metric (pnl_net, sharpe, win_rate, ...).",
    ),
    min_trades: int = typer.Option(0, metavar="N", help="Rank only cells with at least N trades."),
    top: int = typer.Option(20, metavar="N", help="Print the best N cells."),
    out: Path = typer.Option(
        None,
        metavar="FILE",
        help="Every cell as CSV or .parquet (default $UPDOWN_HOME/sweeps/ID.csv).",
    ),
    data: list[Path] = DATA,
) -> None:
    """Event-driven grid: every cell is a full backtest through the live engine, on Dask."""
    from live.kernel.events import WindowListed
    from research import sweep_results
    from research.sweep import parse_grid, run_grid
    from strategies.params import ParamError

    lo, hi = day_range_of(start, end)
    try:
        grid = parse_grid(param)
    except ValueError as exc:
        fail(str(exc))
    _check_ranking(objective, min_trades, workers)
    _check_cells(strategy, grid)
    if scheduler and scheduler_file:
        fail("--scheduler and --scheduler-file: give one of them")
    if scheduler_file is not None and not scheduler_file.is_file():
        fail(f"--scheduler-file {scheduler_file}: no such file")
    from live.store import db

    with db.connect() as conn:
        rows = _rows(conn, data, lo, hi)
        if not any(type(row[3]) is WindowListed for row in rows):
            no_windows(start, end, data)
        with _Progress() as progress:
            try:
                run = run_grid(strategy, rows, lo, hi, grid, fill_model=fill_model.value,
                               workers=workers, scheduler=scheduler,
                               scheduler_file=str(scheduler_file) if scheduler_file else None,
                               conn=conn, on_start=progress.start,
                               on_cell=progress.advance)  # fmt: skip
            except ParamError as exc:
                fail(str(exc))
    frame = sweep_results.frame_of(run.cells)
    path = sweep_results.write(frame, out or _default_out(run.sweep_id))
    _print_ranked(frame, objective, min_trades, top)
    failed = len(run.failed)
    note = f" ({failed} failed: see `updown sweep show {run.sweep_id}`)" if failed else ""
    typer.echo(f"{len(run.cells)} event-driven trials logged under {run.sweep_id}{note}")
    typer.echo(f"all cells: {path}")


def _check_cells(strategy: str, grid) -> None:
    """Every cell against the strategy's typed parameters, before any data is read."""
    from research.backtest import with_params
    from research.sweep import expand_grid
    from strategies import UnknownStrategy, get_strategy
    from strategies.params import ParamError

    try:
        base = get_strategy(strategy)
        for cell in expand_grid(grid):
            with_params(base, cell)
    except (UnknownStrategy, ParamError) as exc:
        fail(str(exc).strip("'\""))


def _check_ranking(objective: str, min_trades: int, workers: int | None) -> None:
    from research.sweep_results import LOWER_IS_BETTER, OBJECTIVES

    if objective not in OBJECTIVES + LOWER_IS_BETTER:
        fail(f"--objective {objective!r}: one of {', '.join(OBJECTIVES + LOWER_IS_BETTER)}")
    if min_trades < 0:
        fail(f"--min-trades {min_trades}: must be >= 0")
    if workers is not None and workers < 1:
        fail(f"--workers {workers}: must be >= 1")


def _default_out(sweep_id: str) -> Path:
    from live.store.db import updown_home

    return updown_home() / "sweeps" / f"{sweep_id}.csv"


class _Progress:
    """A rich progress bar over the grid's cells; prints the sweep id and Dask dashboard first."""

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self._bar = Progress("[progress.description]{task.description}", *columns)
        self._task = None
        self._failed = 0
        return self

    def start(self, sweep_id: str, dashboard: str | None, n_cells: int) -> None:
        typer.echo(f"sweep {sweep_id}: {n_cells} cells; Dask dashboard: {dashboard or 'none'}")
        self._bar.start()
        self._task = self._bar.add_task("cells", total=n_cells)

    def advance(self, params, metrics) -> None:
        if "error" in metrics:
            self._failed += 1
            self._bar.console.print(f"cell {params} failed: {metrics['error']}", markup=False)
        self._bar.update(self._task, advance=1, description=f"cells ({self._failed} failed)")

    def __exit__(self, *exc) -> None:
        self._bar.stop()


def _print_ranked(frame, objective: str, min_trades: int, top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from research.sweep_results import ranked

    if objective not in frame.columns:
        typer.echo(f"no cell has {objective} (every cell failed?)")
        return
    best = ranked(frame, objective, min_trades).head(top)
    table = Table(
        title=f"best {len(best)} by {objective}"
        + (f", trades >= {min_trades}" if min_trades else "")
    )
    cols = [c for c in best.columns if c not in ("error",)]
    for col in cols:
        table.add_column(col, justify="right")
    for row in best[cols].itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    Console(width=200).print(table)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@sweep_app.command("ls")
def ls_cmd(
    limit: int = typer.Option(20, metavar="N", help="How many sweeps, newest first."),
) -> None:
    """List past sweeps (screen and grid) with their cell counts."""
    from live.store import db
    from research.sweep_results import list_sweeps

    with db.connect() as conn:
        frame = list_sweeps(conn, limit)
    if frame.empty:
        typer.echo("no sweeps yet: run `updown sweep grid` or `updown sweep screen`")
        return
    typer.echo(frame.to_string(index=False))


@sweep_app.command("show")
def show_cmd(
    sweep_id: str = typer.Argument(..., metavar="ID", help="A sweep id from `updown sweep ls`."),
    objective: str = typer.Option("pnl_net", metavar="METRIC", help="Rank by this metric."),
    min_trades: int = typer.Option(0, metavar="N", help="Rank only cells with at least N trades."),
    top: int = typer.Option(20, metavar="N", help="Print the best N cells."),
    out: Path = typer.Option(None, metavar="FILE", help="Write every cell as CSV or .parquet."),
    heatmap: str = typer.Option(
        None, metavar="X,Y", help="Draw a heatmap of the objective over two parameters."
    ),
    heatmap_out: Path = typer.Option(None, metavar="PNG", help="Where the heatmap goes."),
) -> None:
    """Reopen a sweep: its cells ranked, failed cells with their errors, CSV and a heatmap."""
    from live.store import db
    from research import sweep_results

    _check_ranking(objective, min_trades, None)
    axes = _parts(heatmap) if heatmap else None
    if axes is not None and len(axes) != 2:
        fail(f"--heatmap {heatmap!r}: two parameter names, e.g. before_close_s,min_price")
    with db.connect() as conn:
        try:
            meta, frame = sweep_results.load(conn, sweep_id)
        except sweep_results.SweepNotFound as exc:
            fail(str(exc))
    typer.echo(f"{meta['sweep']} {meta['strategy']} {meta['params'].get('kind')}: "
               f"{len(frame)} cells, data {meta['data_from']} .. {meta['data_to']}")  # fmt: skip
    if objective in frame.columns:
        _print_ranked(frame, objective, min_trades, top)
    for row in frame[frame["error"].notna()].to_dict("records"):
        typer.echo(f"failed: { ({k: v for k, v in row.items() if k != 'error'}) }: {row['error']}")
    if out is not None:
        typer.echo(f"all cells: {sweep_results.write(frame, out)}")
    if axes is not None:
        target = heatmap_out or _default_out(sweep_id).with_suffix(f".{axes[0]}-{axes[1]}.png")
        try:
            sweep_results.heatmap(frame, axes[0], axes[1], objective, target)
        except ValueError as exc:
            fail(str(exc))
        typer.echo(f"heatmap: {target}")


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")
