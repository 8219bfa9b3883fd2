"""`updown control show | set | pause | flatten | emergency | resume`. The plain forms of these
are also run by updown.fast_paths, without typer's argument machinery, through the same
functions (`show`, `write_control`)."""

from __future__ import annotations

import typer

from live.kernel.controls import DEFAULTS, InvalidControl, validate
from live.store import controls, db
from updown.commands._common import fail, operator_name
from updown.fast_paths import KILL_SWITCH

control_app = typer.Typer(help="Runtime controls and the kill switch.", no_args_is_help=True)

BY_OPTION = typer.Option(
    None, "--by", metavar="NAME", help="Who acts, for the audit trail (default: the OS user)."
)
KEY = typer.Argument(..., metavar="KEY", help=f"The control: {', '.join(DEFAULTS)}.")
VALUE = typer.Argument(..., metavar="VALUE", help="Its new value (see README: runtime controls).")


def write_control(key: str, value: str, by: str | None) -> None:
    """Validate, write and audit one control (NOTIFY tells running runners), then print
    `key: old -> new`. Bad input exits 2 before the database is touched."""
    try:
        validate(key, value)  # before touching the database: bad input writes nothing
    except InvalidControl as exc:
        fail(str(exc))
    with db.connect() as conn:
        try:
            old = controls.write(conn, key, value, by or operator_name())
        except InvalidControl as exc:  # the value is validated above; this is a bad --by
            fail(str(exc))
    typer.echo(f"{key}: {old} -> {value}")


@control_app.command("show")
def show() -> None:
    """Print every control as key=value. A missing control (runners fail closed without it)
    exits 1 naming it."""
    with db.connect() as conn:
        values = controls.read_raw(conn)
    for key in DEFAULTS:
        typer.echo(f"{key}={values.get(key, '<missing>')}")
    missing = [key for key in DEFAULTS if key not in values]
    if missing:
        fail(
            f"missing control{'s' if len(missing) > 1 else ''} {', '.join(missing)}: runners "
            "refuse to trade (fail closed) until it is set again with "
            f"`updown control set {missing[0]} {DEFAULTS[missing[0]]}`",
            code=1,
        )


@control_app.command("set", context_settings={"ignore_unknown_options": True})
def set_cmd(key: str = KEY, value: str = VALUE, by: str | None = BY_OPTION) -> None:
    """Set KEY to VALUE (validated; audited; announced to running runners)."""
    write_control(key, value, by)


@control_app.command("pause")
def pause(by: str | None = BY_OPTION) -> None:
    """Stop new entries; open positions stay monitored and stop-losses keep working."""
    write_control("kill_switch", KILL_SWITCH["pause"], by)


@control_app.command("flatten")
def flatten(by: str | None = BY_OPTION) -> None:
    """Exit every position at market, then pause."""
    write_control("kill_switch", KILL_SWITCH["flatten"], by)


@control_app.command("emergency")
def emergency(by: str | None = BY_OPTION) -> None:
    """Cancel every pending order, exit everything, then pause."""
    write_control("kill_switch", KILL_SWITCH["emergency"], by)


@control_app.command("resume")
def resume(by: str | None = BY_OPTION) -> None:
    """Set kill_switch=off: entries allowed again."""
    write_control("kill_switch", KILL_SWITCH["resume"], by)


def register(app: typer.Typer) -> None:
    app.add_typer(control_app, name="control")
