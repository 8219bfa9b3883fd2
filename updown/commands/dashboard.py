"""`updown dashboard [--port 5006] [--address 127.0.0.1]`: serve the Panel cockpit."""

from __future__ import annotations

import typer

from live.store import db

PORT = typer.Option(5006, "--port", metavar="PORT", help="TCP port to listen on.")
ADDRESS = typer.Option(
    "127.0.0.1", "--address", metavar="HOST", help="Interface to bind (localhost by default)."
)


def dashboard(port: int = PORT, address: str = ADDRESS) -> None:
    """Serve the cockpit. Viewing is open; controls need UPDOWN_DASHBOARD_PASSWORD and a login."""
    from panel_app.app import serve  # imported lazily: Panel is slow to import
    from panel_app.auth import AuthConfig

    auth = AuthConfig.from_env()
    url = db.database_url()
    typer.echo(f"updown cockpit on http://{address}:{port}/ (database {db.mask_url(url)})")
    if not auth.enabled:
        typer.echo("controls disabled: set UPDOWN_DASHBOARD_PASSWORD to enable /login")
    serve(url, port=port, address=address, auth=auth)  # blocks until Ctrl-C


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
