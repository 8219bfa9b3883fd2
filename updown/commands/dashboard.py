"""`updown dashboard [--port 5006] [--address 127.0.0.1]`: serve the Panel cockpit."""

from __future__ import annotations

import typer

from live.store import db
from updown.commands._common import fail

PORT = typer.Option(5006, "--port", metavar="PORT", help="TCP port to listen on.")
ADDRESS = typer.Option(
    "127.0.0.1", "--address", metavar="HOST", help="Interface to bind (localhost by default)."
)
CERTFILE = typer.Option(
    None, "--certfile", metavar="PEM", help="Serve HTTPS with this certificate (and --keyfile)."
)
KEYFILE = typer.Option(None, "--keyfile", metavar="PEM", help="The certificate's private key.")
BEHIND_PROXY = typer.Option(
    False,
    "--behind-proxy",
    help="Trust X-Forwarded-Proto/For from a TLS proxy in front (docs/security.md).",
)


def dashboard(
    port: int = PORT,
    address: str = ADDRESS,
    certfile: str | None = CERTFILE,
    keyfile: str | None = KEYFILE,
    behind_proxy: bool = BEHIND_PROXY,
) -> None:
    """Serve the cockpit. Viewing is open; controls need a named operator's login
    (`updown operator add NAME`)."""
    from panel_app.app import serve  # imported lazily: Panel is slow to import
    from panel_app.auth import AuthConfig, OperatorsError, default_operators_path

    if bool(certfile) != bool(keyfile):
        fail("--certfile and --keyfile go together")
    url = db.database_url()
    try:
        auth = AuthConfig.from_env(url)
    except OperatorsError as exc:
        fail(str(exc))
    scheme = "https" if certfile else "http"
    typer.echo(f"updown cockpit on {scheme}://{address}:{port}/ (database {db.mask_url(url)})")
    for note in auth.notes:
        typer.echo(f"note: {note}")
    if auth.enabled:
        typer.echo(f"operators: {', '.join(sorted(auth.operators))} ({default_operators_path()})")
    else:
        typer.echo(
            f"controls disabled: no operators in {default_operators_path()} "
            "(updown operator add NAME)"
        )
    serve(
        url,
        port=port,
        address=address,
        auth=auth,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        xheaders=behind_proxy,
    )  # blocks until Ctrl-C


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
