"""Audit sentences (spec "Audit Trail"): every decision renders why it was taken from its inputs,
e.g. "entered because: CLOB was $0.54, canary strategy was active, risk check passed with $68.00
balance, order placed at 14:32:01.234"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def clock(ts_ms: int) -> str:
    """HH:MM:SS.mmm (UTC) of an epoch-ms timestamp; derived from the event, never the wall clock
    (plain arithmetic: UTC days are 86,400 s, and the kernel imports no date/time module)."""
    seconds, millis = divmod(ts_ms, 1000)
    minutes, second = divmod(seconds % 86_400, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}"


def _money(value: Any) -> str:
    return "unknown" if value is None else f"${float(value):.2f}"


def decision_sentence(inputs: Mapping[str, Any], code: str | None, detail: Mapping[str, Any]):
    """The sentence for one risk decision; `inputs` holds clob_price, strategy, reason,
    balance_usd, ts."""
    parts = [f"CLOB was {_money(inputs.get('clob_price'))}"]
    if inputs.get("reason"):
        parts.append(str(inputs["reason"]))
    parts.append(f"{inputs.get('strategy')} strategy was active")
    if code is None:
        parts.append(f"risk check passed with {_money(inputs.get('balance_usd'))} balance")
        parts.append(f"order placed at {clock(int(inputs['ts']))}")
        return "entered because: " + ", ".join(parts)
    numbers = ", ".join(f"{k}={v}" for k, v in detail.items())
    parts.append(f"signal at {clock(int(inputs['ts']))}")
    return f"not entered because: risk check denied {code} ({numbers}); " + ", ".join(parts)
