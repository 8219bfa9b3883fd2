"""`updown drill`: crash, hand-over and database-outage drills of the live runner against the
sandbox."""

from __future__ import annotations

import typer

from updown.commands._common import fail

drill_app = typer.Typer(
    help="Crash, hand-over and database-outage drills of the live runner against a throwaway "
    "sandbox world.",
    no_args_is_help=True,
)


def _finish(report) -> None:
    from updown.drill import print_report

    print_report(report, typer.echo)
    raise typer.Exit(0 if report.passed else 1)


def _run(kind: str, count: int, seed: int, window_seconds: int, keep: bool) -> None:
    from updown import drill

    if count < 1:
        fail(f"--{'runs' if kind == 'crash' else 'starts'} {count}: must be at least 1")
    if not 10 <= window_seconds <= 300:
        fail(f"--window-seconds {window_seconds}: must be between 10 and 300")
    fn = drill.crash if kind == "crash" else drill.handover
    try:
        report = fn(count, seed=seed, window_s=window_seconds, progress=typer.echo, keep=keep)
    except drill.DrillError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    _finish(report)


@drill_app.command("crash")
def crash(
    runs: int = typer.Option(10, "--runs", metavar="N", help="SIGKILLs of the trading runner."),
    seed: int = typer.Option(1, "--seed", metavar="N", help="Seed of the kill points."),
    window_seconds: int = typer.Option(
        20, "--window-seconds", metavar="SECONDS", help="Length of the sandbox's windows."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the drill's database afterwards."),
) -> None:
    """SIGKILL the trader at random lifecycle points N times, restart it each time; exit 1 on
    any lost, duplicated or orphaned position, >2 entries per window, or a balance mismatch."""
    _run("crash", runs, seed, window_seconds, keep)


@drill_app.command("handover")
def handover(
    starts: int = typer.Option(10, "--starts", metavar="N", help="Traders killed (handovers)."),
    seed: int = typer.Option(1, "--seed", metavar="N", help="Seed of the kill instants."),
    window_seconds: int = typer.Option(
        20, "--window-seconds", metavar="SECONDS", help="Length of the sandbox's windows."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the drill's database afterwards."),
) -> None:
    """Two instances; SIGKILL the trader N times: the observer must take over within 5 s and
    exactly one instance may order at any instant; exit 1 on any violation."""
    _run("handover", starts, seed, window_seconds, keep)


@drill_app.command("db-outage")
def db_outage(
    seconds: float = typer.Option(
        30, "--seconds", metavar="SECONDS", help="How long the database stays away."
    ),
    seed: int = typer.Option(1, "--seed", metavar="N", help="Seed of the sandbox."),
    window_seconds: int = typer.Option(
        20, "--window-seconds", metavar="SECONDS", help="Length of the sandbox's windows."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the drill's database afterwards."),
) -> None:
    """A trader and an observer; mid-session the database refuses every connection for
    SECONDS: no order may reach the venue meanwhile, one trader after it (reconciled before its
    first order), market data buffered or counted lost (never silently); exit 1 on any
    violation."""
    from updown import drill
    from updown.drill_outage import db_outage as run_outage

    if not 1 <= seconds <= 600:
        fail(f"--seconds {seconds:g}: must be between 1 and 600")
    if not 10 <= window_seconds <= 300:
        fail(f"--window-seconds {window_seconds}: must be between 10 and 300")
    try:
        report = run_outage(
            seconds, seed=seed, window_s=window_seconds, progress=typer.echo, keep=keep
        )
    except drill.DrillError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    _finish(report)


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")
