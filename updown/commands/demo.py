"""`updown demo` — the main job (what `make demo` runs)."""

from __future__ import annotations

import typer

from updown.commands._common import fail


def demo(
    duration: float | None = typer.Option(
        None,
        "--duration",
        metavar="SECONDS",
        help="Stop after this many seconds (default: Ctrl-C).",
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
        "60,300",
        "--window-seconds",
        metavar="SECONDS",
        help="Comma list of the sandbox's window lengths, in seconds.",
    ),
    no_dashboard: bool = typer.Option(False, "--no-dashboard", help="Do not start the dashboard."),
) -> None:
    """Embedded PostgreSQL, the sandbox, the live runner (canary LIVE on the sandbox with PAPER
    and DRY_RUN copies) and the dashboard; prints every URL. Ctrl-C stops all of it."""
    from updown.demo import Demo, DemoConfig, DemoError

    if duration is not None and duration <= 0:
        fail(f"--duration {duration}: must be greater than 0")
    config = DemoConfig(
        duration_s=duration,
        sandbox_port=sandbox_port,
        health_port=health_port,
        dashboard_port=dashboard_port,
        window_seconds=window_seconds,
        dashboard=not no_dashboard,
    )
    demo_run = Demo(config)
    try:
        raise typer.Exit(demo_run.run())
    except DemoError as exc:
        fail(str(exc), code=1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
