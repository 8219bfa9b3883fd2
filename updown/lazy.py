"""The `updown` group that imports a command's module only when that command is asked for.

`updown --help` lists the commands from a static table (name, module, one-line summary), so it
imports no command module at all; `updown control pause` imports `updown.commands.control` and
what it needs (psycopg), not the research stack (pandas, scipy, statsmodels) or the Polymarket
SDK. A command that needs an optional extra the install lacks fails in one line naming the extra.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from difflib import get_close_matches
from importlib import metadata
from typing import Any

import typer
from typer import _click
from typer.core import TyperGroup

from updown.help_text import examples, name_value_types


@dataclass(frozen=True, slots=True)
class CommandEntry:
    """One top-level command: its name, the module in updown/commands/ whose `register(app)`
    defines it, the summary shown by `updown --help` and example invocations for its help."""

    name: str
    module: str
    summary: str
    examples: tuple[str, ...] = ()


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands are loaded on first use from `entries` (set by the app)."""

    entries: tuple[CommandEntry, ...] = ()

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [entry.name for entry in self.entries]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name not in self.commands:
            entry = next((e for e in self.entries if e.name == cmd_name), None)
            if entry is None:
                return None
            self.commands[cmd_name] = _guarded(load_command(entry), entry)
        return self.commands[cmd_name]

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """The command list from the table: no command module is imported for `--help`."""
        limit = formatter.width - 6 - max(len(e.name) for e in self.entries)
        rows = [(e.name, _click.utils.make_default_short_help(e.summary, limit))
                for e in self.entries]  # fmt: skip
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: _click.Context, args: list[str]) -> Any:
        try:
            return self._click_resolve_command(ctx, args)
        except _click.exceptions.UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {matches[0]!r}?"
            raise


def load_command(entry: CommandEntry) -> _click.Command:
    """Import `updown.commands.<module>`, let it register, return the click command named
    `entry.name`, with the entry's examples as its epilog. A missing optional dependency exits
    2 naming the extra that provides it."""
    try:
        module = importlib.import_module(f"updown.commands.{entry.module}")
    except ModuleNotFoundError as exc:
        _exit_missing_extra(entry.name, exc)
    holder = typer.Typer(rich_markup_mode=None, add_completion=False)
    module.register(holder)
    command = typer.main.get_group(holder).commands[entry.name]
    name_value_types(command)
    if entry.examples:
        command.epilog = examples(entry.examples)
    return command


def _guarded(command: _click.Command, entry: CommandEntry) -> _click.Command:
    """Wrap `command.invoke` so an extra's module missing at run time exits 2 in one line, and
    an unreachable or unmigrated database exits 1 in one line (not a traceback)."""
    invoke = command.invoke

    def guarded_invoke(ctx: _click.Context) -> Any:
        try:
            return invoke(ctx)
        except ModuleNotFoundError as exc:
            _exit_missing_extra(entry.name, exc)
        except Exception as exc:
            problem = database_problem(exc)
            if problem is None:
                raise
            typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(1) from None

    command.invoke = guarded_invoke  # type: ignore[method-assign]
    return command


def _exit_missing_extra(command: str, exc: ModuleNotFoundError) -> None:
    """Exit 2 with `updown X needs the research extra (...)` when the missing module belongs to
    one of updown's extras; re-raise otherwise (a missing module of our own is a bug)."""
    missing = (exc.name or "").split(".")[0]
    extra = extras_providing().get(missing.lower().replace("-", "_"))
    if extra is None:
        raise exc
    typer.echo(
        f"error: `updown {command}` needs {missing}, from the {extra} extra, which this install "
        f"lacks: pip install 'updown[{extra}]'",
        err=True,
    )
    raise typer.Exit(2)


def database_problem(exc: BaseException) -> str | None:
    """One line for a database that cannot be used (unreachable, refused, not migrated); None
    for anything else, which is a bug and keeps its traceback."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return None
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return f"the database has no updown schema ({first_line}): run `updown db migrate`"
    if isinstance(exc, psycopg.OperationalError):
        return f"cannot use the database: {first_line}"
    return None


_EXTRA = re.compile(r"""^([A-Za-z0-9][A-Za-z0-9._-]*).*;\s*extra\s*==\s*["']([^"']+)["']""")


def extras_providing() -> dict[str, str]:
    """Import name -> the extra declaring it, from the installed package's metadata (our extras'
    distributions are imported under their own names: numpy, scipy, panel, ...)."""
    found: dict[str, str] = {}
    try:
        requirements = metadata.requires("updown") or []
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return found
    for requirement in requirements:
        match = _EXTRA.match(requirement)
        if match and match[2] != "dev":
            found.setdefault(match[1].lower().replace("-", "_"), match[2])
    return found
