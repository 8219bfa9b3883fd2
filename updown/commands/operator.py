"""`updown operator add | remove | list`: the dashboard's named operators (each with their own
scrypt password hash) in the operators file (UPDOWN_DASHBOARD_OPERATORS, default
~/.config/updown/operators). The dashboard reads the file at start."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from updown.commands._common import fail

operator_app = typer.Typer(help="Dashboard operators (named logins).", no_args_is_help=True)

FILE = typer.Option(
    None, "--file", metavar="PATH", help="The operators file (default: $UPDOWN_DASHBOARD_OPERATORS"
    " or ~/.config/updown/operators)."
)  # fmt: skip
STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of stdin."
)
NAME = typer.Argument(..., metavar="NAME", help="Letters, digits, '_', '.', '@', '-'; max 64.")
MIN_PASSWORD = 12


def _load(path: Path | None):
    from panel_app.auth import OperatorsError, default_operators_path, load_operators

    path = path or default_operators_path()
    try:
        return path, load_operators(path)
    except OperatorsError as exc:
        fail(str(exc))


@operator_app.command("add")
def add(name: str = NAME, file: Path | None = FILE, password_stdin: bool = STDIN) -> None:
    """Add NAME (or set a new password): asked twice, hidden, unless --password-stdin."""
    from panel_app.auth import hash_password, save_operators, valid_name

    if not valid_name(name):
        fail(f"operator name {name!r}: letters, digits, '_', '.', '@', '-' (max 64), not 'guest'")
    path, operators = _load(file)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        fail(f"password: at least {MIN_PASSWORD} characters")
    existed = name in operators
    operators[name] = hash_password(password)
    save_operators(path, operators)
    typer.echo(f"operator {name} {'updated' if existed else 'added'} in {path}")
    typer.echo("restart `updown dashboard` to use it")


@operator_app.command("remove")
def remove(name: str = NAME, file: Path | None = FILE) -> None:
    """Remove NAME (the dashboard forgets it at its next start)."""
    from panel_app.auth import save_operators

    path, operators = _load(file)
    if name not in operators:
        fail(f"no operator {name!r} in {path}")
    del operators[name]
    save_operators(path, operators)
    typer.echo(f"operator {name} removed from {path}")


@operator_app.command("list")
def list_cmd(file: Path | None = FILE) -> None:
    """Print the operators' names (never their hashes)."""
    path, operators = _load(file)
    typer.echo(f"# {path}")
    for name in sorted(operators):
        typer.echo(name)


def register(app: typer.Typer) -> None:
    app.add_typer(operator_app, name="operator")
