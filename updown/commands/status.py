"""`updown status`: the health of a running runner, as JSON. Standard library only (no HTTP
client import), so it answers as fast as the interpreter starts."""

from __future__ import annotations

import json
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.request import urlopen

import typer

DEFAULT_URL = "http://127.0.0.1:8711/health"


def fetch_health(url: str, timeout_s: float = 3.0) -> dict:
    """The JSON body of the health endpoint (also of an error status: the runner reports its
    own failure as JSON). Raises OSError / HTTPException when unreachable, ValueError when the
    URL or the body is malformed."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("not an http:// or https:// URL")
    try:
        with urlopen(url, timeout=timeout_s) as response:
            raw = response.read()
    except HTTPError as exc:
        raw = exc.read()
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError(f"expected a JSON object, got {type(body).__name__}")
    return body


def status(
    url: str = typer.Option(
        DEFAULT_URL, "--url", metavar="URL", help="The runner's health endpoint."
    ),
) -> None:
    """Print the health of a running runner (exit 1 if it cannot be reached)."""
    try:
        body = fetch_health(url)
    except (OSError, HTTPException, ValueError) as exc:
        typer.echo(f"error: runner health at {url} unreachable: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(body, indent=2, sort_keys=True))


def register(app: typer.Typer) -> None:
    app.command("status")(status)
