"""`updown demo` — the main job (what `make demo` runs)."""

from __future__ import annotations

import typer

from updown.commands._common import fail


def demo(
    duration: float | None = typer.Option(
        None,
        "--duration",
        metavar="SECONDS",
        help="Stop after this many seconds (default: Ctrl-C); either way open LIVE positions "
        "settle first (at most ~40 s with the default windows).",
    ),
    sandbox_port: int = typer.Option(
        8701, "--sandbox-port", metavar="PORT", help="Port of the sandbox exchange."
    ),
    health_port: int = typer.Option(
        8711, "--health-port", metavar="PORT", help="Port of the runner's /health."
    ),
    dashboard_port: int = typer.Option(
        5006, "--dashboard-port", metavar="PORT", help="Port of the dashboard."
    ),
    window_seconds: str = typer.Option(
        "15,20,60",
        "--window-seconds",
        metavar="SECONDS",
        help="Comma list of the sandbox's window lengths, in seconds; each over 10 s (the "
        "canary enters at half a short window and entries stop 5 s before the close).",
    ),
    no_dashboard: bool = typer.Option(False, "--no-dashboard", help="Do not start the dashboard."),
) -> None:
    """Embedded PostgreSQL, the sandbox, the live runner (canary LIVE on the sandbox with PAPER
    and DRY_RUN copies) and the dashboard; announces the timeline, then says each step of the
    path as it happens: DRY_RUN evidence, the gate's promotion, LIVE orders, their settlement.
    Ctrl-C lets open LIVE positions settle, then stops all of it (Ctrl-C again: at once)."""
    if duration is not None and duration <= 0:
        fail(f"--duration {duration}: must be greater than 0")
    lengths = _window_lengths(window_seconds)
    from updown.demo import Demo, DemoConfig, DemoError

    config = DemoConfig(
        duration_s=duration,
        sandbox_port=sandbox_port,
        health_port=health_port,
        dashboard_port=dashboard_port,
        window_seconds=lengths,
        dashboard=not no_dashboard,
    )
    demo_run = Demo(config)
    try:
        raise typer.Exit(demo_run.run())
    except DemoError as exc:
        fail(str(exc), code=1)


def _window_lengths(text: str) -> tuple[int, ...]:
    """`--window-seconds` as distinct whole seconds the canary can trade; exits 2 otherwise."""
    from updown.demo_timeline import tradable

    try:
        lengths = tuple(int(part) for part in text.split(","))
    except ValueError:
        fail(f"--window-seconds {text!r}: must be a comma list of whole seconds")
    if len(set(lengths)) != len(lengths):
        fail(f"--window-seconds {text!r}: a length is listed twice")
    short = [n for n in lengths if not tradable(n) or n > 86_400]
    if short:
        fail(
            f"--window-seconds {text!r}: {short[0]} s is out of range: each length must be "
            "11..86400 s (the canary enters at half a short window; entries stop 5 s before "
            "the close)"
        )
    return lengths


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
