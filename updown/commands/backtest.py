"""`updown backtest`: replay backtests through the live engine (research.backtest), the
look-ahead proof (research.lookahead) and signal replay of a recorded session (research.parity).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from updown.commands._common import FILL_MODEL_HELP, FillModel, day_range_of, fail, no_windows


def backtest_cmd(
    strategy: str = typer.Argument(None, help="Strategy name or alias (not with --signal-replay)."),
    start: str = typer.Option(
        None, "--from", metavar="DAY", help="First day (YYYY-MM-DD) or ISO time."
    ),
    end: str = typer.Option(
        None, "--to", metavar="DAY", help="Last day, inclusive (default: --from)."
    ),
    assets: str = typer.Option(None, metavar="ASSETS", help="Comma list of assets (default: all)."),
    fill_model: FillModel = typer.Option(
        FillModel.BOOK, metavar="[book|conservative]", help=FILL_MODEL_HELP
    ),
    latency_ms: list[str] = typer.Option(
        [],
        metavar="SOURCE=MS",
        help="Delay a feed's events by MS milliseconds, e.g. chainlink=250,clob=80 (repeatable).",
    ),
    param: list[str] = typer.Option(
        [], metavar="KEY=VALUE", help="Strategy parameter, e.g. before_close_s=60 (repeatable)."
    ),
    out: Path = typer.Option(
        None,
        metavar="DIR",
        help="Write summary.json, trades.csv, equity.csv/png and report.html (see --html) here.",
    ),
    html: bool = typer.Option(True, "--html/--no-html", help="With --out: the HTML report."),
    data: list[Path] = typer.Option(
        [], metavar="FILE", help="Read these files instead of the DB (repeatable)."
    ),
    use_db: bool = typer.Option(True, "--db/--no-db", help="Store the run's records in the DB."),
    check_lookahead: bool = typer.Option(False, help="Prove no decision used future data."),
    signal_replay: str = typer.Option(
        None, metavar="SESSION", help="Signal-replay parity of a recorded runner session (run id)."
    ),
) -> None:
    """Backtest STRATEGY over recorded data through the live engine (mode BACKTEST)."""
    if signal_replay:
        _parity(signal_replay)
        return
    if not strategy:
        fail("STRATEGY is required (or --signal-replay SESSION)")
    if not start and not data:
        fail("--from is required (or --data FILE...)")
    if start:
        day_range_of(start, end)  # a malformed --from/--to exits 2 naming the flag
    from research.backtest import parse_assignments, parse_latency

    try:
        latency = parse_latency(latency_ms)
        params = parse_assignments(param, "--param")
    except ValueError as exc:
        fail(str(exc))
    with contextlib.ExitStack() as stack:
        conn = _conn(stack) if (use_db or not data) else None
        dataset = _dataset(conn, data, start, end, assets)
        model = fill_model.value
        result = _run(strategy, dataset, model, latency, params, conn if use_db else None)
        report = _lookahead(strategy, dataset, model, latency, params) if check_lookahead else None
        result.summary["lookahead_check"] = "not run" if report is None else report.text()
        if use_db and conn is not None:
            _save_lookahead(conn, result.run_id, result.summary["lookahead_check"])
        if out is not None:
            _write(result, out, html)
        if report is not None and not report.ok:
            raise typer.Exit(1)


def _conn(stack: contextlib.ExitStack):
    from live.store import db

    return stack.enter_context(db.connect())


def _dataset(conn, data: list[Path], start: str | None, end: str | None, assets: str | None):
    from research.data import load_db, load_files

    wanted = assets.split(",") if assets else None
    for path in data:
        if not path.is_file():
            fail(f"--data {path}: no such file")
    try:
        if data:
            dataset = load_files(data, start, end or start, assets=wanted)
        else:
            dataset = load_db(conn, start, end or start, assets=wanted)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    if not dataset.windows:
        no_windows(start, end, data)
    return dataset


def _run(strategy, dataset, fill_model, latency, params, conn):
    from research.backtest import run_backtest
    from strategies import UnknownStrategy

    try:
        result = run_backtest(strategy, dataset, fill_model=fill_model, latency_ms=latency,
                              params=params, conn=conn, progress=True)  # fmt: skip
    except (UnknownStrategy, ValueError) as exc:
        fail(str(exc).strip("'\""))
    typer.echo(result.report())
    for slug, reasons in _excluded(dataset):
        typer.echo(f"  excluded {slug}: {reasons}")
    _tables(result.summary)
    return result


def _write(result, out: Path, html: bool) -> None:
    paths = result.write(out)
    typer.echo(f"wrote {', '.join(p.name for p in paths)} to {out}")
    if html:
        page, error = write_html(out)
        typer.echo(f"report: {page}" + (f" (a cell failed: {error})" if error else ""))


def _save_lookahead(conn, run_id: str, text: str) -> None:
    """The look-ahead result beside the run's summary (the dashboard's backtest-runs column)."""
    from psycopg.types.json import Jsonb

    with conn.transaction():
        conn.execute(
            "UPDATE backtest_runs SET summary = coalesce(summary, '{}'::jsonb) || %s"
            " WHERE run_id = %s",
            (Jsonb({"lookahead_check": text}), run_id),
        )


def _tables(summary) -> None:
    from rich.console import Console

    from research.report import breakdown_tables, summary_table

    console = Console(width=120)
    console.print(summary_table(summary))
    for table in breakdown_tables(summary):
        console.print(table)
    for p in summary["open_positions"]:
        typer.echo(f"  open at end: {p['window_slug']} {p['outcome']} {p['shares']} shares, "
                   f"cost {p['cost']:.4f} USD ({p['state']})")  # fmt: skip


def _excluded(dataset):
    return [(w.slug, "; ".join(w.reasons)) for w in dataset.windows.values()
            if w.status == "excluded"]  # fmt: skip


def _lookahead(strategy, dataset, fill_model, latency, params) -> None:
    from research.lookahead import check_lookahead

    report = check_lookahead(strategy, dataset, fill_model=fill_model, latency_ms=latency,
                             params=params, progress=True)  # fmt: skip
    typer.echo(f"look-ahead check {report.text()}", err=not report.ok)
    return report


def _parity(session: str) -> None:
    from live.store import db
    from research.parity import signal_replay

    with db.connect() as conn:
        try:
            report = signal_replay(conn, session)
        except ValueError as exc:
            fail(str(exc))
    typer.echo(report.text())
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest_cmd)


def write_html(out: Path) -> tuple[Path, str | None]:
    """Run notebooks/backtest_report.py on the files in `out`; returns (report.html, the error of
    a failing cell or None). Here, not in research/: research never imports the CLI layer."""
    from updown.commands.report import run_notebook

    _, html, error = run_notebook("backtest_report", out / "report", {"run_dir": str(out)})
    return html, error
