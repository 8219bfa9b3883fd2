"""One journal field → a checked value, and `JournalError`, the error every journal reader raises.

Each parser takes the decoded line (`dict`) and a key and returns the value or raises
JournalError naming the field; the codec (live.journal.codec) adds the line and the source.
Prices and sizes of market data come back as floats, money as `Decimal`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from live.kernel.domain import dec
from live.kernel.events import Level


class JournalError(ValueError):
    """A journal line that cannot be used; names the source, line number and field."""

    def __init__(self, message: str, lineno: int = 0, field: str = "", source: str = "") -> None:
        self.reason, self.lineno, self.field, self.source = message, lineno, field, source
        where = f"{source}:" if source else ""
        at = f"line {lineno}" if lineno else "line ?"
        name = f" field {field!r}" if field else ""
        super().__init__(f"{where}{at}{name}: {message}")


def required(obj: dict[str, Any], key: str) -> Any:
    """The value of `key`; JournalError "missing" if absent or null."""
    if key not in obj or obj[key] is None:
        raise JournalError("missing", field=key)
    return obj[key]


def text(obj: dict[str, Any], key: str) -> str:
    """A non-empty string."""
    value = required(obj, key)
    if not isinstance(value, str) or not value:
        raise JournalError(f"must be a non-empty string, got {value!r}", field=key)
    return value


def optional_text(obj: dict[str, Any], key: str, default: Any = "") -> Any:
    """A string, or `default` when absent, null or empty; anything else is refused."""
    value = obj.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise JournalError(f"must be a string, got {value!r}", field=key)
    return value


def non_negative_int(obj: dict[str, Any], key: str) -> int:
    """An integer >= 0 (epoch ms, or a length in seconds); bools refused."""
    value = required(obj, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JournalError(f"must be a non-negative integer (epoch ms), got {value!r}", field=key)
    return value


MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a datetime holds


def epoch_ms(obj: dict[str, Any], key: str) -> int:
    """A time in epoch ms: an integer from 0 to MAX_EPOCH_MS (year 9999); bools refused."""
    value = non_negative_int(obj, key)
    if value > MAX_EPOCH_MS:
        raise JournalError(
            f"must be epoch ms up to {MAX_EPOCH_MS} (year 9999), got {value}", field=key
        )
    return value


def decimal(obj: dict[str, Any], key: str) -> Decimal:
    """A decimal string → finite `Decimal` (live.kernel.domain.dec rules)."""
    value = required(obj, key)
    if not isinstance(value, str):
        raise JournalError(f"must be a decimal string, got {value!r}", field=key)
    try:
        return dec(value)
    except ValueError as exc:
        raise JournalError(str(exc), field=key) from None


def optional_decimal(obj: dict[str, Any], key: str) -> Decimal | None:
    """A decimal string, or None when absent or null."""
    return None if obj.get(key) is None else decimal(obj, key)


def price(obj: dict[str, Any], key: str) -> float:
    """A decimal string strictly inside (0, 1), as a float (market data)."""
    value = decimal(obj, key)
    if not (0 < value < 1):
        raise JournalError(f"price must be in (0, 1), got {value}", field=key)
    return float(value)


def size(obj: dict[str, Any], key: str) -> float:
    """A decimal string >= 0, as a float (market data)."""
    value = decimal(obj, key)
    if value < 0:
        raise JournalError(f"size must be >= 0, got {value}", field=key)
    return float(value)


_MEMBERS: dict[type, dict[str, Any]] = {}


def member(obj: dict[str, Any], key: str, enum: type, transform: Callable[[str], str] = str.upper):
    """A member of `enum` by its value after `transform` (upper-case by default)."""
    value = text(obj, key)
    members = _MEMBERS.get(enum)
    if members is None:  # value -> member; a dict lookup is ~10x an Enum call on the hot path
        members = _MEMBERS[enum] = {m.value: m for m in enum}
    found = members.get(transform(value))
    if found is None:
        allowed = ", ".join(str(m) for m in enum)
        raise JournalError(f"must be one of {allowed}, got {value!r}", field=key)
    return found


def levels(obj: dict[str, Any], key: str) -> tuple[Level, ...]:
    """Book levels as floats (market data). The hot path: the same rules as `price`/`size`
    (decimal strings, finite, 0 < price < 1, size >= 0) checked on floats directly; the slow
    path only runs to word the error."""
    raw = obj.get(key, [])
    if not isinstance(raw, list):
        raise JournalError("must be a list of [price, size] pairs", field=key)
    found = []
    for pair in raw:
        if type(pair) is list and len(pair) == 2:
            p, s = pair
            if type(p) is str and type(s) is str:
                try:
                    px, sz = float(p), float(s)
                except ValueError:
                    px = sz = _NAN
                if 0.0 < px < 1.0 and 0.0 <= sz < _INF:
                    found.append((px, sz))
                    continue
        _level_error(key, raw, len(found))
    return tuple(found)


def _level_error(key: str, raw: list, i: int) -> None:
    """Raise the precise error for level `i` (the slow, Decimal-checked path)."""
    pair = raw[i]
    if not isinstance(pair, list) or len(pair) != 2:
        raise JournalError(f"entry {i} must be a [price, size] pair", field=key)
    level = {"price": pair[0], "size": pair[1]}
    try:
        price(level, "price")
        size(level, "size")
    except JournalError as exc:
        raise JournalError(f"entry {i}: {exc.reason}", field=key) from None
    raise JournalError(f"entry {i}: not a finite decimal pair: {pair!r}", field=key)


_NAN = float("nan")
_INF = float("inf")
_BOOK_SIDES = {"bid": "bid", "ask": "ask", "BUY": "bid", "SELL": "ask", "buy": "bid", "sell": "ask"}


def book_side(obj: dict[str, Any], key: str) -> str:
    """`bid` / `ask` (BUY / SELL and lower case accepted) → `bid` | `ask`."""
    value = required(obj, key)
    if not isinstance(value, str) or value not in _BOOK_SIDES:
        raise JournalError(f"must be bid or ask (or BUY / SELL), got {value!r}", field=key)
    return _BOOK_SIDES[value]
