"""Values in `--help` shown as words (`--port INTEGER`, `--venue [sandbox|polymarket]`), not as
Python types (`<int>`, `<list[Path]>`). A command's own `metavar=` (`--latency-ms SOURCE=MS`)
wins; this names the rest, so every command reads the same way."""

from __future__ import annotations

import re

from typer import _click

_WORDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "NUMBER",
    "path": "PATH",
    "Path": "PATH",
    "file": "FILE",
    "directory": "DIRECTORY",
    "Decimal": "DECIMAL",
    "datetime": "DATETIME",
    "bool": "BOOLEAN",
}


def type_word(shown: str | None) -> str | None:
    """`<int>` -> INTEGER, `<list[Path]>` -> PATH, `<a|b>` -> [a|b], `<int range>` -> INTEGER;
    None for None."""
    if not shown:
        return None
    label = shown.strip("<>").removesuffix("...").strip("<>")
    listed = re.fullmatch(r"list\[(.*)\]", label)
    label = (listed[1] if listed else label).removesuffix(" range")
    if "|" in label:
        return f"[{label}]"
    return _WORDS.get(label, label.upper())


def name_value_types(command: _click.Command) -> None:
    """Give every option and argument of `command` (and of its subcommands) a word for its
    value where it has none; arguments show their name and, for choices, the choices."""
    ctx = _click.Context(command)
    for param in command.params:
        if param.param_type_name == "option" and not getattr(param, "is_flag", False):
            if param.metavar is None:
                param.metavar = type_word(param.display_type(ctx))
        elif param.param_type_name == "argument":
            _name_argument(param, ctx)
    for sub in getattr(command, "commands", {}).values():
        name_value_types(sub)


def _name_argument(param: _click.Parameter, ctx: _click.Context) -> None:
    word = type_word(param.display_type(ctx))
    if param.metavar is None:
        param.metavar = param.name.upper()
    if param.nargs != 1:  # the usage line adds "..." itself: {FILE}...
        param.metavar = param.metavar.removesuffix("...")
    choices = word if word and word.startswith("[") else None
    param.display_type_rich = lambda ctx: choices  # the name says the rest (FILE..., KEY)


def examples(lines: tuple[str, ...]) -> str:
    """An epilog listing example invocations, one per line, kept unwrapped by the help writer
    (click's `\\b` marker)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)
