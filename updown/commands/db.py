"""`updown db migrate | status | url`."""

from __future__ import annotations

import typer

from live.store import db, migrate
from updown.commands._common import fail

db_app = typer.Typer(help="The PostgreSQL store: migrations and connection.", no_args_is_help=True)


@db_app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending migrations (idempotent)."""
    url = db.database_url()
    try:
        done = migrate.migrate(url)
    except migrate.MigrationError as exc:
        fail(str(exc))
    if done:
        for mig in done:
            typer.echo(f"applied {mig.version:03d}_{mig.name}")
    else:
        typer.echo("schema up to date")


@db_app.command("status")
def status_cmd() -> None:
    """List migrations and whether each is applied."""
    rows = migrate.status(db.database_url())
    for mig, state in rows:
        typer.echo(f"{mig.version:03d}_{mig.name}: {state}")
    if any(state == "CHANGED" for _, state in rows):
        raise typer.Exit(2)


@db_app.command("url")
def url_cmd() -> None:
    """Print the database URL in use (password masked)."""
    typer.echo(db.mask_url(db.database_url()))


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
