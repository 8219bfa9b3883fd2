"""Helpers shared by the CLI commands."""

from __future__ import annotations

import getpass
import sys
from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit (2 = bad input, by convention)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def operator_name() -> str:
    """Who is acting, for audit rows (the OS user unless --by says otherwise)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
