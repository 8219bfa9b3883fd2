"""Audit sentences (spec "Audit Trail", issue 16 item 7 "every decision in one sentence"): each
decision renders why it was taken from its stored inputs, e.g. "entered because: CLOB was $0.54,
canary strategy was active, risk check passed with $68.00 balance, order placed at 14:32:01.234".

One pure function per kind of decision, each taking the inputs exactly as they are stored beside
the sentence (so a reader can render the sentence again from the row, and a test can pin it):
entries and denials (`decisions`), exits (`position_events`), settlements (`settlements`),
breaker trips and resets (`breaker_events`), runtime control changes (`control_changes`) and
kill-criterion hits (`kill_criterion_hits`). Values may be Decimals, numbers or their strings
(jsonb keeps Decimals as strings); a missing value reads "unknown", never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_MICRO = Decimal("0.000001")


def clock(ts_ms: int) -> str:
    """HH:MM:SS.mmm (UTC) of an epoch-ms timestamp; derived from the event, never the wall clock
    (plain arithmetic: UTC days are 86,400 s, and the kernel imports no date/time module)."""
    seconds, millis = divmod(ts_ms, 1000)
    minutes, second = divmod(seconds % 86_400, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _money(value: Any) -> str:
    """USD to the cent: $68.00."""
    number = _decimal(value)
    return "unknown" if number is None else f"${number:.2f}"


def _exact(number: Decimal, grouping: str = "") -> str:
    """At least two decimals, more when they matter (to 1e-6): 0.5 → 0.50, 0.475 → 0.475."""
    number = number.quantize(_MICRO).normalize()
    if number.as_tuple().exponent >= -2:
        return format(number, f"{grouping}.2f")
    return format(number, f"{grouping}f")


def _price(value: Any) -> str:
    """A token price, exact: $0.57, $0.4750 → $0.475."""
    number = _decimal(value)
    return "unknown" if number is None else "$" + _exact(number)


def _asset_price(value: Any) -> str:
    """An oracle price (strike, final price), exact and grouped: $100,012.50."""
    number = _decimal(value)
    return "unknown" if number is None else "$" + _exact(number, ",")


def _percent(value: Any) -> str:
    """A fraction as a percentage: 0.05 → 5%."""
    number = _decimal(value)
    if number is None:
        return "unknown %"
    return f"{(number * 100).quantize(_MICRO).normalize():f}%"


def _at(ts: Any) -> str:
    return "" if ts is None else f" at {clock(int(ts))}"


def _pairs(detail: Any) -> str:
    if not isinstance(detail, Mapping):
        return "" if detail in (None, "") else str(detail)
    return ", ".join(f"{k}={v}" for k, v in detail.items())


# ---------------------------------------------------------------- entries (decisions)


def _placement(inputs: Mapping[str, Any]) -> str:
    """When the entry order went to the venue: its send time, never the decision's."""
    sent = inputs.get("sent_ts")
    if sent is not None:
        return f"order placed at {clock(int(sent))}"
    decided = f"decided at {clock(int(inputs['ts']))}"
    cid = inputs.get("client_order_id")
    if cid:
        return f"{decided}, order {cid} placed when the runner sends it (send time on the order)"
    return decided


def decision_sentence(inputs: Mapping[str, Any], code: str | None, detail: Mapping[str, Any]):
    """The sentence for one risk decision; `inputs` holds clob_price, strategy, reason,
    balance_usd, ts (the decision) and, for an approved entry, client_order_id and sent_ts (when
    the order was sent: known at once when a simulated venue executes it in the same instant;
    in LIVE the runner sends it later and records the time on the order)."""
    parts = [f"CLOB was {_money(inputs.get('clob_price'))}"]
    if inputs.get("reason"):
        parts.append(str(inputs["reason"]))
    parts.append(f"{inputs.get('strategy')} strategy was active")
    if code is None:
        parts.append(f"risk check passed with {_money(inputs.get('balance_usd'))} balance")
        parts.append(_placement(inputs))
        return "entered because: " + ", ".join(parts)
    numbers = ", ".join(f"{k}={v}" for k, v in detail.items())
    parts.append(f"signal at {clock(int(inputs['ts']))}")
    return f"not entered because: risk check denied {code} ({numbers}); " + ", ".join(parts)


# ---------------------------------------------------------------- exits (position_events)

EXIT_TRIGGERS = {
    "STOP_LOSS": "stop-loss",
    "TAKE_PROFIT": "take-profit",
    "TRAILING_STOP": "trailing stop",
    "FLATTEN": "flatten",
    "EXPIRY": "time exit",
}


def _exit_why(inputs: Mapping[str, Any]) -> str:
    trigger = str(inputs.get("trigger") or "")
    seen = f"bid {_price(inputs.get('price_seen'))}{_at(inputs.get('triggered_ts'))}"
    threshold = _price(inputs.get("threshold"))
    entry = _price(inputs.get("entry_price"))
    param = _percent(inputs.get("parameter"))
    if trigger == "STOP_LOSS":
        return f"{seen} was at or below the threshold {threshold} (entry {entry} − {param})"
    if trigger == "TAKE_PROFIT":
        return f"{seen} was at or above the threshold {threshold} (entry {entry} + {param})"
    if trigger == "TRAILING_STOP":
        peak = _price(inputs.get("peak_bid"))
        return f"{seen} was at or below the threshold {threshold} (peak bid {peak} − {param})"
    if trigger == "FLATTEN":
        state = inputs.get("trading_state") or "FLATTENING or EMERGENCY"
        return (
            f"the trading state was {state} (the kill switch closes every position at market)"
            f"{_at(inputs.get('triggered_ts'))}, bid {_price(inputs.get('price_seen'))}"
        )
    if trigger == "EXPIRY":
        close = inputs.get("close_ts")
        when = (
            "the window's close" if close is None else f"the window's close at {clock(int(close))}"
        )
        last = _price(inputs.get("price_seen"))
        return f"the position was still held at {when} (the time limit), last bid {last}"
    return f"{seen} (threshold {threshold})"


def _exit_outcome(inputs: Mapping[str, Any]) -> list[str]:
    parts = []
    trigger = str(inputs.get("trigger") or "")
    intended = inputs.get("intended_price")
    if intended is not None:
        parts.append(f"intended exit price {_price(intended)}")
    elif trigger == "EXPIRY":
        parts.append("no exit order: held to settlement")
    else:
        parts.append("no exit order sent yet")
    actual = inputs.get("actual_price")
    settled = inputs.get("settle_price")
    if actual is not None:
        parts.append(f"actual exit price {_price(actual)}")
    if settled is not None:
        rest = "the rest settled" if actual is not None else "settled"
        parts.append(f"{rest} at {_price(settled)} a share ({inputs.get('winner')} won)")
    if actual is None and settled is None:
        parts.append("actual exit price not known yet")
    return parts


def exit_sentence(inputs: Mapping[str, Any]) -> str:
    """The sentence of one position's exit, from what is known so far: `trigger` (STOP_LOSS,
    TAKE_PROFIT, TRAILING_STOP, FLATTEN, EXPIRY), `threshold` and `parameter` (the exit's
    fraction), `price_seen` (the held token's bid that triggered) at `triggered_ts`,
    `entry_price` / `peak_bid` (the threshold's base), `trading_state` (FLATTEN), `close_ts`
    (EXPIRY), then `intended_price` (the bid when the exit order was sent), `actual_price` (the
    exit fills' average) and `settle_price` / `winner` (what settlement paid for the rest)."""
    trigger = str(inputs.get("trigger") or "")
    name = EXIT_TRIGGERS.get(trigger, trigger.lower() or "unknown trigger")
    return f"exit because: {name} — {_exit_why(inputs)}; " + "; ".join(_exit_outcome(inputs))


# ---------------------------------------------------------------- settlements

SETTLEMENT_RULES = {
    "spot_at_close": "the first oracle price in the close second",
    "twap_60s": "the 60-second TWAP ending with the close",
}
_AGREEMENT = {
    "agree": "we agree",
    "disagree": "WE DISAGREE (the breaker trips)",
    "uncertain": "ours is uncertain, the venue's stands",
    "pending": "the venue has not published yet",
}


def settlement_sentence(inputs: Mapping[str, Any]) -> str:
    """The sentence of one window's settlement: `window_slug`, `rule`, `strike`,
    `settlement_price` (the final price by the rule), `ours`, `venue`, `agreement`, `detail`
    (why ours is uncertain, the TWAP's coverage) and `ts` (the venue's resolution)."""
    rule = str(inputs.get("rule"))
    price, strike = _decimal(inputs.get("settlement_price")), _decimal(inputs.get("strike"))
    detail = inputs.get("detail") or {}
    reason = detail.get("reason") if isinstance(detail, Mapping) else None
    final = f"final price {_asset_price(price)}"
    if price is None:
        final = f"final price unknown ({reason or 'no oracle data'})"
    elif strike is not None:
        final += " ≥ strike" if price >= strike else " < strike"
    venue = inputs.get("venue") or "not yet published"
    agreement = _AGREEMENT.get(str(inputs.get("agreement")), str(inputs.get("agreement")))
    return (
        f"settled {inputs.get('window_slug')}{_at(inputs.get('ts'))} because: rule {rule} "
        f"({SETTLEMENT_RULES.get(rule, 'unknown rule')}), strike {_asset_price(strike)}, {final}"
        f" → ours {inputs.get('ours')}; venue {venue}: {agreement}"
    )


# ---------------------------------------------------------------- the circuit breaker


def breaker_sentence(inputs: Mapping[str, Any]) -> str:
    """The sentence of a breaker trip or reset: `tripped`, `reason` (the assertion or cause),
    `detail` and `ts`."""
    detail = _pairs(inputs.get("detail"))
    cause = str(inputs.get("reason")) + (f" ({detail})" if detail else "")
    at = _at(inputs.get("ts"))
    if inputs.get("tripped"):
        return f"breaker tripped{at} because: {cause}; no new entries until an operator resets it"
    return f"breaker reset{at} because: {cause}; the breaker no longer blocks new entries"


# ---------------------------------------------------------------- runtime controls


def control_sentence(inputs: Mapping[str, Any]) -> str:
    """The sentence of one runtime control change: `key`, `old_value`, `new_value`, `changed_by`
    (who the application says acted), `db_role` (the database role that ran it), `operation`
    (INSERT, UPDATE, DELETE) and `ts`."""
    key, old, new = inputs.get("key"), inputs.get("old_value"), inputs.get("new_value")
    operation = str(inputs.get("operation") or "UPDATE")
    if operation == "DELETE" or new is None:
        what = f"control {key} removed (was {old})"
    elif operation == "INSERT" or old is None:
        what = f"control {key} set to {new} (new key)"
    else:
        what = f"control {key} changed from {old} to {new}"
    who = f"by {inputs.get('changed_by')}"
    if inputs.get("db_role"):
        who += f" (database role {inputs['db_role']})"
    return f"{what} {who}{_at(inputs.get('ts'))}"


# ---------------------------------------------------------------- kill criteria

# criterion → (what is measured, how it is compared with the threshold, unit)
KILL_MEASURES = {
    "max_drawdown": ("max drawdown", "≥", " USD"),
    "max_consecutive_losses": ("longest losing streak", "≥", " losses"),
    "min_win_rate_after_n": ("win rate", "<", ""),
    "sprt": ("SPRT log-likelihood ratio", "≤", ""),
}


def kill_sentence(inputs: Mapping[str, Any]) -> str:
    """The sentence of a kill-criterion hit: `strategy`, `criterion` (its kind), `measured`,
    `threshold`, `n` (settled trades evaluated) and `detail` (the verdict in words)."""
    criterion = str(inputs.get("criterion"))
    measure, compare, unit = KILL_MEASURES.get(criterion, ("measured value", "against", ""))
    measured, threshold = _decimal(inputs.get("measured")), _decimal(inputs.get("threshold"))
    shown = [
        "unknown" if v is None else f"{v.quantize(_MICRO).normalize():f}{unit}"
        for v in (measured, threshold)
    ]
    detail = f" ({inputs['detail']})" if inputs.get("detail") else ""
    return (
        f"strategy {inputs.get('strategy')} disabled because: kill criterion {criterion} hit — "
        f"{measure} {shown[0]} {compare} threshold {shown[1]} after {inputs.get('n')} settled "
        f"trades{detail}; removed from allowed_strategies, promotions revoked"
    )
