"""The research cache's columns: event rows ↔ one Arrow table, every field of every market kind
in a typed column (research.cache stores the table as Parquet). Nothing is JSON.

Columns: `ts`, `recv_ts` (int64 epoch ms), `source`, `kind` (dictionary-encoded strings), and a
struct column per kind present (`window`, `book`, `oracle`, …; null on the other kinds' rows)
whose fields are the event's: market-data prices and sizes as float64, the floats the events
carry; book ladders as list<struct<price, size>>; the event's Decimals (oracle prices, window
tick / size / fee / strike, signal amounts) as Arrow decimals with, where the digits differ from
the column's scale, an int8 `<name>_exp` so each comes back as written (`Decimal('0.50')` stays
`0.50`); enums by value; ids and names as strings. `event_ts` is the event's own time where it
differs from the row's (a database row's `ts` went through timestamptz).
"""

from __future__ import annotations

import decimal
import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from live.kernel.domain import Asset, OrderSide, Outcome, SettlementRule, Window
from live.kernel.events import (
    BookDelta,
    BookSnapshot,
    ControlChange,
    Event,
    OracleTick,
    Resolved,
    SignalLine,
    Trade,
    WindowListed,
    kind_of,
)

EventRow = tuple[int, int | None, str, Event]  # (ts, recv_ts, source, event): a parsed raw row

LEVELS = pa.list_(pa.struct([("price", pa.float64()), ("size", pa.float64())]))
_EXACT = decimal.Context(prec=200, Emax=999, Emin=-999)  # quantize back without rounding
_UNITS = {e: Decimal((0, (1,), e)) for e in range(-128, 128)}


# ------------------------------------------------------------------ one field's column


class Column:
    """How one event field is stored: `encode` its values into child arrays named after it,
    `decode` them back into the same Python values."""

    def encode(self, name: str, values: list[Any]) -> dict[str, pa.Array]:
        raise NotImplementedError

    def decode(self, name: str, children: dict[str, pa.Array]) -> list[Any]:
        return python_values(children[name])


class Plain(Column):
    """A scalar of one Arrow type (int64 ms, float64; strings dictionary-encoded)."""

    def __init__(self, arrow_type: pa.DataType) -> None:
        self.arrow_type = arrow_type

    def encode(self, name: str, values: list[Any]) -> dict[str, pa.Array]:
        column = pa.array(values, self.arrow_type)
        return {name: column.dictionary_encode() if pa.types.is_string(column.type) else column}


class Member(Column):
    """A StrEnum member, stored by its value (dictionary-encoded)."""

    def __init__(self, enum: type[Enum]) -> None:
        self.members = {m.value: m for m in enum}

    def encode(self, name: str, values: list[Any]) -> dict[str, pa.Array]:
        texts = [None if v is None else str(v) for v in values]
        return {name: pa.array(texts, pa.string()).dictionary_encode()}

    def decode(self, name: str, children: dict[str, pa.Array]) -> list[Any]:
        return python_values(children[name], self.members.__getitem__)


def python_values(column: pa.Array | pa.ChunkedArray, convert: Callable | None = None) -> list:
    """A column as Python values, fast: a dictionary's values are converted once (and shared),
    numbers without nulls go through numpy. `convert` maps a dictionary's non-null values."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_dictionary(kind):
        values = column.dictionary.to_pylist()
        if convert is not None:
            values = [None if v is None else convert(v) for v in values]
        indices = column.indices
        if indices.null_count:
            return [None if i is None else values[i] for i in indices.to_pylist()]
        return [values[i] for i in indices.to_numpy().tolist()]
    if column.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return column.to_numpy().tolist()
    found = column.to_pylist()
    return found if convert is None else [None if v is None else convert(v) for v in found]


class Levels(Column):
    """A book ladder: a tuple of (price, size) float pairs."""

    def encode(self, name: str, values: list[Any]) -> dict[str, pa.Array]:
        return {name: pa.array(values, LEVELS)}

    def decode(self, name: str, children: dict[str, pa.Array]) -> list[Any]:
        ladders = children[name]
        prices, sizes = pc.list_flatten(ladders).flatten()
        levels = list(zip(python_values(prices), python_values(sizes), strict=True))
        ends = np.cumsum(pc.list_value_length(ladders).fill_null(0).to_numpy()).tolist()
        out, start = [], 0
        for end in ends:
            out.append(tuple(levels[start:end]))
            start = end
        return out


class Decimals(Column):
    """Decimals exactly as written (digits and exponent): an Arrow decimal column, plus the
    exponents where they differ from its scale; decimal text if Arrow cannot hold them (more
    than 76 digits, or a signed zero)."""

    def encode(self, name: str, values: list[Any]) -> dict[str, pa.Array]:
        if any(v is not None and v.is_zero() and v.is_signed() for v in values):
            return {name: _text(values)}
        try:
            column = pa.array(values)  # decimal128 / decimal256 wide enough for every value
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return {name: _text(values)}
        if not pa.types.is_decimal(column.type):  # all None: a null column
            return {name: column}
        exps = [None if v is None else v.as_tuple().exponent for v in values]
        if all(e is None or e == -column.type.scale for e in exps):
            return {name: column}
        return {name: column, f"{name}_exp": pa.array(exps, pa.int8())}

    def decode(self, name: str, children: dict[str, pa.Array]) -> list[Any]:
        column = children[name]
        if pa.types.is_string(column.type):
            return [None if v is None else Decimal(v) for v in column.to_pylist()]
        values = column.to_pylist()
        exps = children.get(f"{name}_exp")
        if exps is None:
            return values
        quantize, units = _EXACT.quantize, _UNITS
        return [
            None if v is None else quantize(v, units[e])
            for v, e in zip(values, python_values(exps), strict=True)
        ]


def _text(values: list[Any]) -> pa.Array:
    return pa.array([None if v is None else str(v) for v in values], pa.string())


MS, INT, FLOAT, TEXT = Plain(pa.int64()), Plain(pa.int64()), Plain(pa.float64()), Plain(pa.string())
DEC, LADDER = Decimals(), Levels()


# ------------------------------------------------------------------ one kind's struct column


@dataclass(frozen=True)
class Kind:
    """A market kind's fields (in the event's constructor order, after `ts`) and columns."""

    fields: dict[str, Column]
    build: Callable[..., Event]  # (ts, *values) -> event
    values: Callable[[Any, str], Any] = getattr  # (event, field name) -> value

    def encode(self, events: list[Any]) -> pa.StructArray:
        children: dict[str, pa.Array] = {}
        for name, column in self.fields.items():
            children |= column.encode(name, [self.values(e, name) for e in events])
        return pa.StructArray.from_arrays(list(children.values()), names=list(children))

    def decode(self, struct: pa.StructArray, ts: list[int]) -> list[Any]:
        children = dict(zip([f.name for f in struct.type], struct.flatten(), strict=True))
        columns = [column.decode(name, children) for name, column in self.fields.items()]
        return list(map(self.build, ts, *columns))


def _window(ts: int, *values: Any) -> WindowListed:
    return WindowListed(ts, Window(*values))


WINDOW_FIELDS = {
    "slug": TEXT, "asset": Member(Asset), "length_s": INT, "open_ts": MS, "close_ts": MS,
    "condition_id": TEXT, "token_up": TEXT, "token_down": TEXT, "tick_size": DEC,
    "min_size": DEC, "fee_rate": DEC, "settlement_rule": Member(SettlementRule), "strike": DEC,
}  # fmt: skip

SIGNAL_FIELDS = {
    "slug": TEXT, "side": Member(Outcome), "usd": DEC, "max_price": DEC, "stop_loss": DEC,
    "take_profit": DEC, "trailing_stop": DEC, "signal_id": TEXT, "strategy": TEXT,
}  # fmt: skip

KINDS: dict[str, Kind] = {
    "window": Kind(WINDOW_FIELDS, _window, lambda e, name: getattr(e.window, name)),
    "book": Kind({"token_id": TEXT, "bids": LADDER, "asks": LADDER}, BookSnapshot),
    "book_delta": Kind({"token_id": TEXT, "side": TEXT, "price": FLOAT, "size": FLOAT}, BookDelta),
    "trade": Kind(
        {"token_id": TEXT, "price": FLOAT, "size": FLOAT, "side": Member(OrderSide)}, Trade
    ),
    "oracle": Kind({"asset": Member(Asset), "price": DEC, "source": TEXT}, OracleTick),
    "resolved": Kind({"slug": TEXT, "winner": Member(Outcome)}, Resolved),
    "control": Kind({"key": TEXT, "value": TEXT}, ControlChange),
    "signal": Kind(SIGNAL_FIELDS, SignalLine),
}


def field_names(event_type: type) -> tuple[str, ...]:
    """The constructor fields of an event type (NamedTuple or dataclass), `ts` first."""
    if hasattr(event_type, "_fields"):
        return tuple(event_type._fields)
    return tuple(f.name for f in fields(event_type))


# ------------------------------------------------------------------ the table


def to_table(rows: Sequence[EventRow]) -> pa.Table:
    """The rows as one table (row order kept); ValueError for a kind that is not market data."""
    kinds = [kind_of(event) for _, _, _, event in rows]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"the research cache holds market kinds only, not {', '.join(unknown)}")
    ts = [r[0] for r in rows]
    event_ts = [None if r[3].ts == t else r[3].ts for r, t in zip(rows, ts, strict=True)]
    columns: dict[str, pa.Array] = {
        "ts": pa.array(ts, pa.int64()),
        "recv_ts": pa.array([r[1] for r in rows], pa.int64()),
        "event_ts": pa.array(event_ts, pa.int64()),
        "source": pa.array([r[2] for r in rows], pa.string()).dictionary_encode(),
        "kind": pa.array(kinds, pa.string()).dictionary_encode(),
    }
    for kind, spec in KINDS.items():
        at = [i for i, k in enumerate(kinds) if k == kind]
        if at:
            struct = spec.encode([rows[i][3] for i in at])
            places = np.full(len(rows), -1, dtype=np.int64)
            places[at] = np.arange(len(at))
            columns[kind] = struct.take(pa.array(places, mask=places < 0))
    return pa.table(columns)


def from_table(table: pa.Table) -> list[EventRow]:
    """The rows back, each event rebuilt from its kind's columns (no per-row parsing)."""
    with COLLECTOR_PAUSED:
        return _rows(table)


class _CollectorPause:
    """Pause CPython's cyclic collector while building objects that form no cycles: otherwise
    it rescans them again and again as they are made (it more than doubles a read's time).
    Re-entrant and thread-safe: the collector resumes when the last reader is done, and only if
    it was on before the first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._was_enabled:
                gc.enable()


COLLECTOR_PAUSED = _CollectorPause()


def _rows(table: pa.Table) -> list[EventRow]:
    table = table.combine_chunks()
    ts = table.column("ts")
    event_ts = pc.coalesce(table.column("event_ts"), ts)
    kind_column = table.column("kind")
    kinds = python_values(kind_column)
    built: dict[str, Iterator[Any]] = {}
    for kind in set(kinds):
        mask = pc.equal(kind_column.cast(pa.string()), kind)
        struct = pc.filter(table.column(kind), mask).combine_chunks()
        times = python_values(pc.filter(event_ts, mask))
        built[kind] = iter(KINDS[kind].decode(struct, times))
    events = [next(built[k]) for k in kinds]
    recv = python_values(table.column("recv_ts"))
    source = python_values(table.column("source"))
    return list(zip(python_values(ts), recv, source, events, strict=True))
