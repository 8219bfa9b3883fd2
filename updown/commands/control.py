"""`updown control show | set | pause | flatten | emergency | resume`.

The kill switch verbs also have a path that skips the CLI framework's argument machinery
(`kill_switch_fast`, called by updown.cli.main before typer parses anything): typer's parameter
coercion imports pydantic, ~60 ms of CPU an operator should not wait for in an emergency."""

from __future__ import annotations

import typer

from live.kernel.controls import DEFAULTS, InvalidControl, validate
from live.store import controls, db
from updown.commands._common import fail, operator_name

control_app = typer.Typer(help="Runtime controls and the kill switch.", no_args_is_help=True)

BY_OPTION = typer.Option(
    None, "--by", metavar="NAME", help="Who acts, for the audit trail (default: the OS user)."
)
KEY = typer.Argument(..., metavar="KEY", help=f"The control: {', '.join(DEFAULTS)}.")
VALUE = typer.Argument(..., metavar="VALUE", help="Its new value (see README: runtime controls).")

# verb -> the kill_switch value it writes
KILL_SWITCH = {"pause": "pause", "flatten": "flatten", "emergency": "emergency", "resume": "off"}


def _set(key: str, value: str, by: str | None) -> None:
    try:
        validate(key, value)  # before touching the database: bad input writes nothing
    except InvalidControl as exc:
        fail(str(exc))
    with db.connect() as conn:
        try:
            old = controls.write(conn, key, value, by or operator_name())
        except InvalidControl as exc:  # pragma: no cover - validated above
            fail(str(exc))
    typer.echo(f"{key}: {old} -> {value}")


@control_app.command("show")
def show() -> None:
    """Print every control as key=value."""
    with db.connect() as conn:
        values = controls.read_raw(conn)
    for key in DEFAULTS:
        typer.echo(f"{key}={values.get(key, '<missing>')}")


@control_app.command("set", context_settings={"ignore_unknown_options": True})
def set_cmd(key: str = KEY, value: str = VALUE, by: str | None = BY_OPTION) -> None:
    """Set KEY to VALUE (validated; audited; announced to running runners)."""
    _set(key, value, by)


@control_app.command("pause")
def pause(by: str | None = BY_OPTION) -> None:
    """Stop new entries; open positions stay monitored and stop-losses keep working."""
    _set("kill_switch", KILL_SWITCH["pause"], by)


@control_app.command("flatten")
def flatten(by: str | None = BY_OPTION) -> None:
    """Exit every position at market, then pause."""
    _set("kill_switch", KILL_SWITCH["flatten"], by)


@control_app.command("emergency")
def emergency(by: str | None = BY_OPTION) -> None:
    """Cancel every pending order, exit everything, then pause."""
    _set("kill_switch", KILL_SWITCH["emergency"], by)


@control_app.command("resume")
def resume(by: str | None = BY_OPTION) -> None:
    """Set kill_switch=off: entries allowed again."""
    _set("kill_switch", KILL_SWITCH["resume"], by)


def kill_switch_fast(argv: list[str]) -> int | None:
    """Run `control pause|flatten|emergency|resume [--by NAME]` exactly as the typer command
    would and return its exit code; None for any other argv (help, other commands, typos),
    which the typer app then handles."""
    if len(argv) not in (2, 4) or argv[0] != "control" or argv[1] not in KILL_SWITCH:
        return None
    if len(argv) == 4 and (argv[2] != "--by" or argv[3].startswith("-")):
        return None
    try:
        _set("kill_switch", KILL_SWITCH[argv[1]], argv[3] if len(argv) == 4 else None)
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:
        from updown.lazy import database_problem

        problem = database_problem(exc)
        if problem is None:
            raise
        typer.echo(f"error: {problem}", err=True)
        return 1
    return 0


def register(app: typer.Typer) -> None:
    app.add_typer(control_app, name="control")
