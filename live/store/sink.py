"""The persistence sink: the engine's records (live/kernel/records.py) into the tables, batched.

One sink per run: `open_run` writes the `backtest_runs` row, `add` buffers records, `flush` writes
each table in one statement batch inside one transaction (COPY for the append-only tables,
executemany upserts for the keyed ones), `finish` stores the summary. Writes are idempotent where
the record has a key: signals by signal_id (ON CONFLICT DO NOTHING); orders, fills (a matched
fill again with its final status), positions and redemptions by their id (the latest row wins);
settlements by (window, mode, run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from live.kernel import records
from live.kernel.domain import Fill, Mode, Order, Position

# Parents before children (order_events and fills reference orders, position_events positions).
WRITE_ORDER: tuple[type, ...] = (
    records.SignalRecord,
    records.DecisionRecord,
    Order,
    records.OrderEventRecord,
    Fill,
    Position,
    records.PositionEventRecord,
    records.SettlementRecord,
    records.RedemptionRecord,
    records.BalanceRecord,
    records.AssertionRecord,
    records.BreakerRecord,
)
_UPSERT_LATEST = {
    Order: "client_order_id",
    Position: "position_id",
    records.RedemptionRecord: "position_id",
    Fill: "fill_id",  # a matched fill is written again with its final status (issue 13)
}
_INSERT_ONCE = {records.SignalRecord: "signal_id"}
_SETTLEMENT_KEY = "(window_slug, mode, (coalesce(run_id, '')))"


def _json_default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)  # Decimal and anything else exact: as its string


def _jsonb(value: Mapping[str, Any]) -> Jsonb:
    """jsonb with Decimals as strings (exact) and enums as their values."""
    return Jsonb(dict(value), dumps=lambda obj: json.dumps(obj, default=_json_default))


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


class _Table:
    """How one record type maps onto its table: columns, conversions and the SQL to write it."""

    def __init__(self, record_type: type) -> None:
        self.type = record_type
        self.name = records.TABLE[record_type]
        self.columns = tuple(f.name for f in fields(record_type))
        times = set(records.time_columns(record_type))
        self.converters = tuple(_converter(name in times) for name in self.columns)
        self.sql = self._sql()

    def row(self, record: Any) -> tuple:
        return tuple(
            convert(getattr(record, name))
            for name, convert in zip(self.columns, self.converters, strict=True)
        )

    def _sql(self) -> str:
        cols = ", ".join(self.columns)
        values = ", ".join(["%s"] * len(self.columns))
        insert = f"INSERT INTO {self.name} ({cols}) VALUES ({values})"
        if self.type in _INSERT_ONCE:
            return f"{insert} ON CONFLICT ({_INSERT_ONCE[self.type]}) DO NOTHING"
        if self.type in _UPSERT_LATEST:
            key = _UPSERT_LATEST[self.type]
            return f"{insert} ON CONFLICT ({key}) DO UPDATE SET {self._excluded(key)}"
        if self.type is records.SettlementRecord:
            return f"{insert} ON CONFLICT {_SETTLEMENT_KEY} DO UPDATE SET {self._excluded()}"
        return f"COPY {self.name} ({cols}) FROM STDIN"

    def _excluded(self, *keys: str) -> str:
        return ", ".join(f"{c} = EXCLUDED.{c}" for c in self.columns if c not in keys)


def _converter(is_time: bool):
    if is_time:
        return _dt
    return _value


def _value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return _jsonb(value)
    return value


class Sink:
    """Buffers engine records and writes them in batches; one owner, not thread-safe."""

    def __init__(self, conn: psycopg.Connection, run_id: str, *, batch_size: int = 5000) -> None:
        self.conn = conn
        self.run_id = run_id
        self.batch_size = batch_size
        self.written: dict[str, int] = {}
        self._tables = {t: _Table(t) for t in WRITE_ORDER}
        self._buffer: dict[type, list[Any]] = {t: [] for t in WRITE_ORDER}
        self._pending = 0

    # ---------------------------------------------------------------- the run
    def open_run(
        self,
        *,
        kind: str,
        mode: Mode | str,
        strategy: str | None = None,
        params: Mapping[str, Any] | None = None,
        assets: Iterable[str] | None = None,
        fill_model: str | None = None,
        venue: str | None = None,
    ) -> None:
        """Insert the `backtest_runs` row that groups this run's records; `venue` is the venue a
        session trades on ('polymarket' or 'sandbox'; None for backtests and replays), which its
        positions inherit (migration 005)."""
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO backtest_runs (run_id, kind, mode, strategy, params, assets,"
                " fill_model, venue) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    self.run_id,
                    kind,
                    _value(mode),
                    strategy,
                    _jsonb(dict(params or {})),
                    sorted(assets) if assets else None,
                    fill_model,
                    venue,
                ),
            )

    def finish(
        self,
        summary: Mapping[str, Any],
        *,
        data_from_ms: int | None = None,
        data_to_ms: int | None = None,
    ) -> None:
        """Flush what is left and close the run row with its summary and data range."""
        self.flush()
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE backtest_runs SET summary = %s, data_from = %s, data_to = %s,"
                " finished_at = now() WHERE run_id = %s",
                (_jsonb(summary), _dt(data_from_ms), _dt(data_to_ms), self.run_id),
            )

    # ---------------------------------------------------------------- records
    def add(self, record: Any) -> None:
        """Buffer one record. The caller flushes at event boundaries (`flush_if_full`), so that
        an order's events never reach the DB before the order row they reference."""
        self._buffer[type(record)].append(record)
        self._pending += 1

    def extend(self, batch: Iterable[Any]) -> None:
        for record in batch:
            self.add(record)

    def flush_if_full(self) -> None:
        """Flush when at least `batch_size` records are buffered."""
        if self._pending >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write every buffered record, parents first, in one transaction."""
        if not self._pending:
            return
        with self.conn.transaction(), self.conn.cursor() as cur:
            for record_type in WRITE_ORDER:
                batch = self._buffer[record_type]
                if batch:
                    self._write(cur, self._tables[record_type], batch)
        for batch in self._buffer.values():
            batch.clear()
        self._pending = 0

    def _write(self, cur: psycopg.Cursor, table: _Table, batch: list[Any]) -> None:
        if table.type in _UPSERT_LATEST:
            key = _UPSERT_LATEST[table.type]
            batch = list({getattr(r, key): r for r in batch}.values())  # the latest row per id
        rows = [table.row(r) for r in batch]
        if table.sql.startswith("COPY"):
            with cur.copy(table.sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur.executemany(table.sql, rows)
        self.written[table.name] = self.written.get(table.name, 0) + len(rows)
