"""The operator's urgent commands, run without typer's argument machinery.

typer 0.29 coerces every parameter through pydantic (importing it and building a TypeAdapter
per parameter): ~60-70 ms of CPU before a command starts, more on a loaded machine. These
exact forms skip it and call the very functions the typer commands call, so they write, audit,
print and exit exactly alike:

    updown control pause | flatten | emergency | resume [--by NAME]
    updown control set KEY VALUE [--by NAME]
    updown control show
    updown status [--url URL]

Anything else (help, `--by=NAME`, a missing value, a value starting with `-`, other commands)
returns None and goes through typer. Matching imports nothing: only a match imports the
command's module.
"""

from __future__ import annotations

from collections.abc import Callable

# verb -> the kill_switch value it writes (updown.commands.control uses this table too)
KILL_SWITCH = {"pause": "pause", "flatten": "flatten", "emergency": "emergency", "resume": "off"}


def run(argv: list[str]) -> int | None:
    """Run argv if it is one of the forms above and return the exit code; else None."""
    call = match(argv)
    return None if call is None else call()


def match(argv: list[str]) -> Callable[[], int] | None:
    """The call argv stands for, or None."""
    if argv[:1] == ["control"]:
        parsed = _words(argv, "--by")
        if parsed is None:
            return None
        words, by = parsed
        if words == ["control", "show"] and by is None:
            return lambda: _control("show")
        if len(words) == 2 and words[1] in KILL_SWITCH:
            return lambda: _control("set", "kill_switch", KILL_SWITCH[words[1]], by)
        if len(words) == 4 and words[1] == "set":
            return lambda: _control("set", words[2], words[3], by)
    if argv[:1] == ["status"]:
        parsed = _words(argv, "--url")
        if parsed is not None and parsed[0] == ["status"]:
            return lambda: _status(parsed[1])
    return None


def _words(argv: list[str], flag: str) -> tuple[list[str], str | None] | None:
    """argv as plain words, then optionally `flag VALUE` at the end: (words, VALUE or None).
    None when anything (a word or the value) starts with `-`: an option typer must read."""
    words, value = argv, None
    if len(argv) >= 2 and argv[-2] == flag:
        words, value = argv[:-2], argv[-1]
    if any(word.startswith("-") for word in [*words, value or ""]):
        return None
    return words, value


def _control(action: str, *args) -> int:
    import typer

    from updown.commands import control
    from updown.lazy import database_problem

    try:
        if action == "show":
            control.show()
        else:
            control.write_control(*args)
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:
        problem = database_problem(exc)
        if problem is None:
            raise
        typer.echo(f"error: {problem}", err=True)
        return 1
    return 0


def _status(url: str | None) -> int:
    import typer

    from updown.commands import status

    try:
        status.status(status.DEFAULT_URL if url is None else url)
    except typer.Exit as exc:
        return exc.exit_code
    return 0
