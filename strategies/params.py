"""Typed strategy parameters (issue 17): every `--param KEY=VALUE` is checked against a strict
rule — its type, bounds and default — and an unknown or out-of-range one is a one-line
`ParamError` naming the strategy, the parameter and the rule.

Keys every strategy takes: `before_close_s` (seconds, (0, 3600]) or `before_close_ms` (ms,
(0, 3 600 000]) for the entry timing, and `stop_loss`, `take_profit`, `trailing_stop` (fractions
of the entry price, (0, 10)). A strategy with a `param_model` (a pydantic model with
`extra="forbid"`) takes exactly its fields; one without takes only the keys of its default
`params`, each parsed as the type of its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError

COMMON: dict[str, tuple[type, float, float, str]] = {
    "before_close_s": (float, 0, 3600, "seconds before close in (0, 3600]"),
    "before_close_ms": (int, 0, 3_600_000, "ms before close in (0, 3600000]"),
    "stop_loss": (Decimal, 0, 10, "a fraction of the entry price in (0, 10)"),
    "take_profit": (Decimal, 0, 10, "a fraction of the entry price in (0, 10)"),
    "trailing_stop": (Decimal, 0, 10, "a fraction of the entry price in (0, 10)"),
}


class ParamError(ValueError):
    """`strategy S: parameter P: rule` — one line, for the CLI to print as is."""

    def __init__(self, strategy: str, param: str, rule: str) -> None:
        self.strategy, self.param, self.rule = strategy, param, rule
        super().__init__(f"strategy {strategy}: parameter {param}: {rule}")


def _number(strategy: str, key: str, value: Any, kind: type, rule: str) -> Any:
    try:
        parsed = kind(str(value)) if kind is not int else int(str(value))
    except (ValueError, InvalidOperation):
        raise ParamError(strategy, key, f"{value!r} is not {rule}") from None
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise ParamError(strategy, key, f"{value!r} is not {rule}")
    return parsed


def _common(strategy: str, key: str, value: Any) -> Any:
    kind, low, high, rule = COMMON[key]
    parsed = _number(strategy, key, value, kind, rule)
    upper_ok = parsed < high if kind is Decimal else parsed <= high
    if not (parsed > low and upper_ok):
        raise ParamError(strategy, key, f"{value} is out of range: {rule}")
    return parsed


def check_params(strategy: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values of `params` for `strategy` (a live.kernel.strategy.Strategy); raises
    ParamError for the first unknown or invalid key."""
    name = strategy.name
    out: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for key, value in params.items():
        if key in COMMON:
            out[key] = _common(name, key, value)
        else:
            own[key] = value
    model: type[BaseModel] | None = getattr(strategy, "param_model", None)
    if model is not None:
        return out | _with_model(name, model, {**strategy.params, **own}, own)
    defaults = dict(strategy.params)
    for key, value in own.items():
        if key not in defaults:
            known = ", ".join(sorted([*COMMON, *defaults]))
            raise ParamError(name, key, f"unknown; known: {known}")
        default = defaults[key]
        if isinstance(default, (int, float, Decimal)) and not isinstance(default, bool):
            kind = type(default)
            out[key] = _number(name, key, value, kind, f"a {kind.__name__}")
        else:
            out[key] = str(value)
    return out


def _with_model(name: str, model: type[BaseModel], merged: dict, given: dict) -> dict[str, Any]:
    try:
        typed = model.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(params)"
        if err["type"] == "extra_forbidden":
            known = ", ".join(sorted([*COMMON, *model.model_fields]))
            raise ParamError(name, key, f"unknown; known: {known}") from None
        field = model.model_fields.get(key)
        rule = _rule(field) if field is not None else ""
        raise ParamError(name, key, f"{merged.get(key)!r}: {err['msg']}{rule}") from None
    return {k: getattr(typed, k) for k in given}


def _rule(field: Any) -> str:
    bounds = []
    for b in field.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(b, attr, None) is not None:
                bounds.append(f"{sym} {getattr(b, attr)}")
    kind = getattr(field.annotation, "__name__", str(field.annotation))
    return f" (rule: {kind} {' and '.join(bounds)}, default {field.default})"


def describe(strategy: Any) -> list[str]:
    """One line per parameter the strategy takes: name, type, bounds, default."""
    model = getattr(strategy, "param_model", None)
    lines = [f"{k}: {rule}" for k, (_, _, _, rule) in COMMON.items()]
    if model is not None:
        lines += [f"{k}:{_rule(f)}" for k, f in model.model_fields.items()]
    else:
        lines += [f"{k}: like its default {v!r}" for k, v in strategy.params.items()]
    return lines
