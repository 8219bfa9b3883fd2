"""The `updown` command: a thin composition root. Each module in updown/commands/ registers its
commands through `register(app)`; this file only collects them."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import updown.commands

app = typer.Typer(
    name="updown",
    help="Research-to-live trading for Polymarket's crypto Up-or-Down window markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain one-line usage errors, easy to read in logs and CI
)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(updown.commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"updown.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    """Console-script entry point. Usage errors exit 2 (typer/click convention)."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
