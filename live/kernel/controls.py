"""Runtime controls: the keys, their defaults and the rules a value must satisfy.

The same rules are enforced by the database (`updown_control_valid` in migration 001); this module
gives the precise message a person needs when a value is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from live.kernel.limits import HARD_MAX_POSITION_USD, KNOWN_ASSETS


class KillSwitch(StrEnum):
    OFF = "off"
    PAUSE = "pause"
    FLATTEN = "flatten"
    EMERGENCY = "emergency"


class ControlMode(StrEnum):
    LIVE = "LIVE"
    PAPER = "PAPER"
    DRY_RUN = "DRY_RUN"


DEFAULTS: dict[str, str] = {
    "kill_switch": "off",
    "trading_mode": "PAPER",
    "max_position_usd": str(HARD_MAX_POSITION_USD),  # the default is the hard cap itself
    "max_session_loss": "20",
    "allowed_instruments": "*",
    "allowed_strategies": "canary",
    # The drawdown breaker (live/kernel/drawdown.py): from the session's peak equity, USD.
    "max_drawdown_usd": "10",
    "drawdown_alert_fraction": "0.8",  # the "large drawdown" alert at this share of the limit
}

# Matched with fullmatch: `$` would also accept a trailing newline ('5\n'), which the database's
# CHECK (a PostgreSQL regex, where `$` is the end of the text) then refuses.
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_STRATEGY = re.compile(r"[a-z0-9][a-z0-9_-]*")
# The longest value any control accepts (also the database's bound, migration 004). It keeps the
# NOTIFY payload far below PostgreSQL's 8,000-byte limit and the refusal message one short line.
MAX_VALUE_LENGTH = 1000
_SHOWN = 60  # characters of a refused key or value quoted in the message


class InvalidControl(ValueError):
    """A control key or value that breaks a rule; the message names key, value and rule."""


def shown(text: str) -> str:
    """`text` quoted for a one-line message: repr (so a newline shows as \\n), cut to _SHOWN."""
    if len(text) <= _SHOWN:
        return repr(text)
    return f"{text[:_SHOWN]!r}… ({len(text)} characters)"


def _decimal(key: str, value: str, rule: str) -> Decimal:
    if not _DECIMAL.fullmatch(value):
        raise InvalidControl(f"{key}={shown(value)} rejected: {rule}")
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the regex already excludes this
        raise InvalidControl(f"{key}={shown(value)} rejected: {rule}") from exc


def _comma_list(key: str, value: str, allowed: re.Pattern[str] | tuple[str, ...], rule: str):
    items = value.split(",")
    for item in items:
        ok = item in allowed if isinstance(allowed, tuple) else bool(allowed.fullmatch(item))
        if not ok:
            raise InvalidControl(f"{key}={shown(value)} rejected: {rule}")


def validate(key: str, value: str) -> str:
    """Return `value` if it is valid for `key`, else raise InvalidControl naming the rule."""
    if not isinstance(key, str) or key not in DEFAULTS:
        raise InvalidControl(
            f"unknown control {shown(str(key))}: known keys are {', '.join(DEFAULTS)}"
        )
    if not isinstance(value, str):
        raise InvalidControl(f"{key}: the value must be text, got {type(value).__name__}")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidControl(
            f"{key}={shown(value)} rejected: longer than {MAX_VALUE_LENGTH} characters"
        )
    if key == "kill_switch" and value not in set(KillSwitch):
        raise InvalidControl(
            f"kill_switch={shown(value)} rejected: must be one of off, pause, flatten, emergency"
        )
    if key == "trading_mode" and value not in set(ControlMode):
        raise InvalidControl(
            f"trading_mode={shown(value)} rejected: must be one of LIVE, PAPER, DRY_RUN"
        )
    if key == "max_position_usd":
        rule = (
            f"must be a decimal in (0, {HARD_MAX_POSITION_USD}]; "
            f"{HARD_MAX_POSITION_USD} USD is the hard cap (HARD_MAX_POSITION_USD) "
            "and no control can raise it"
        )
        amount = _decimal(key, value, rule)
        if not (0 < amount <= HARD_MAX_POSITION_USD):
            raise InvalidControl(f"max_position_usd={shown(value)} rejected: {rule}")
    if key == "max_session_loss":
        rule = "must be a decimal greater than 0"
        if _decimal(key, value, rule) <= 0:
            raise InvalidControl(f"max_session_loss={shown(value)} rejected: {rule}")
    if key == "max_drawdown_usd":
        rule = "must be a decimal greater than 0 (USD below the session's peak equity)"
        if _decimal(key, value, rule) <= 0:
            raise InvalidControl(f"max_drawdown_usd={shown(value)} rejected: {rule}")
    if key == "drawdown_alert_fraction":
        rule = "must be a decimal in (0, 1): the share of max_drawdown_usd that alerts"
        if not (0 < _decimal(key, value, rule) < 1):
            raise InvalidControl(f"drawdown_alert_fraction={shown(value)} rejected: {rule}")
    if key == "allowed_instruments" and value != "*":
        _comma_list(
            key,
            value,
            KNOWN_ASSETS,
            f"must be '*' or a comma list of {', '.join(KNOWN_ASSETS)} (no spaces)",
        )
    if key == "allowed_strategies" and value != "*":
        _comma_list(
            key,
            value,
            _STRATEGY,
            "must be '*' or a comma list of strategy names (lower-case letters, digits, "
            "'-' and '_', no spaces)",
        )
    return value


@dataclass(frozen=True, slots=True)
class Controls:
    """A validated snapshot of every runtime control, as the engine consumes it."""

    kill_switch: KillSwitch = KillSwitch.OFF
    trading_mode: ControlMode = ControlMode.PAPER
    max_position_usd: Decimal = HARD_MAX_POSITION_USD
    max_session_loss: Decimal = Decimal("20")
    allowed_instruments: frozenset[str] | None = None  # None means '*'
    allowed_strategies: frozenset[str] | None = frozenset({"canary"})
    max_drawdown_usd: Decimal = Decimal("10")
    drawdown_alert_fraction: Decimal = Decimal("0.8")

    @classmethod
    def from_mapping(cls, values: dict[str, str]) -> Controls:
        """Build from raw key/value strings; raises InvalidControl on any bad or missing key."""
        missing = set(DEFAULTS) - set(values)
        if missing:
            raise InvalidControl(f"missing controls: {', '.join(sorted(missing))}")
        for key, value in values.items():
            validate(key, value)

        def names(v: str) -> frozenset[str] | None:
            return None if v == "*" else frozenset(v.split(","))

        return cls(
            kill_switch=KillSwitch(values["kill_switch"]),
            trading_mode=ControlMode(values["trading_mode"]),
            max_position_usd=Decimal(values["max_position_usd"]),
            max_session_loss=Decimal(values["max_session_loss"]),
            allowed_instruments=names(values["allowed_instruments"]),
            allowed_strategies=names(values["allowed_strategies"]),
            max_drawdown_usd=Decimal(values["max_drawdown_usd"]),
            drawdown_alert_fraction=Decimal(values["drawdown_alert_fraction"]),
        )

    def with_value(self, key: str, value: str) -> Controls:
        """A copy with one control changed (validated)."""
        return Controls.from_mapping({**self.as_mapping(), key: validate(key, value)})

    def as_mapping(self) -> dict[str, str]:
        def joined(v: frozenset[str] | None) -> str:
            return "*" if v is None else ",".join(sorted(v))

        return {
            "kill_switch": str(self.kill_switch),
            "trading_mode": str(self.trading_mode),
            "max_position_usd": str(self.max_position_usd),
            "max_session_loss": str(self.max_session_loss),
            "allowed_instruments": joined(self.allowed_instruments),
            "allowed_strategies": joined(self.allowed_strategies),
            "max_drawdown_usd": str(self.max_drawdown_usd),
            "drawdown_alert_fraction": str(self.drawdown_alert_fraction),
        }

    def strategy_allowed(self, name: str, aliases: tuple[str, ...] = ()) -> bool:
        if self.allowed_strategies is None:
            return True
        return bool({name, *aliases} & self.allowed_strategies)

    def instrument_allowed(self, asset: str) -> bool:
        return self.allowed_instruments is None or asset in self.allowed_instruments
