"""Recorded market data in PostgreSQL: import files into `market_events` (+ `windows`), export a
range as a journal, list what is there, and read a range back (cached) for research.data.

Import is all or nothing (research.staging reads and checks every file first) and idempotent:
each row's dedup key is a hash of its source, ts and payload, and rows are inserted with ON
CONFLICT DO NOTHING on (source, dedup_key) — the runner's recorder uses the same index — so
importing a file twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from research import cache
from research.cache_columns import EventRow
from research.coverage import GAP_MS, Gap
from research.sources import MARKET_KINDS, RawRow
from research.staging import ImportRefused, StagedFile, stage_files

COLUMNS = "ts, recv_ts, source, kind, asset, slug, token_id, payload, dedup_key"


@dataclass(frozen=True, slots=True)
class ImportSummary:
    path: Path
    fmt: str
    rows: int
    inserted: int


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def dedup_key(source: str, payload: dict[str, Any]) -> str:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(f"{source}|{body}".encode(), digest_size=12).hexdigest()


def import_files(conn: Any, paths: list[Path], fmt: str | None = None) -> list[ImportSummary]:
    """Import journal or public-format files, all or nothing: every file is read and checked
    first (research.staging), then all are written in one transaction. Raises ImportRefused,
    JournalError or ConvertError naming the file and line; the database is then unchanged."""
    return write_staged(conn, stage_files(paths, fmt))


def write_staged(conn: Any, staged: list[StagedFile], on_file=None) -> list[ImportSummary]:
    """Write staged files in one transaction; if the database still refuses a row, ImportRefused
    names the file and nothing is written. `on_file(summary)` after each file (progress)."""
    summaries = []
    with conn.transaction():
        for one in staged:
            try:
                inserted = insert_rows(conn, one.rows)
                upsert_windows(conn, one.rows)
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                reason = exc.diag.message_primary or str(exc)
                raise ImportRefused(f"{one.path}: the database refused a row ({reason})") from None
            summaries.append(ImportSummary(one.path, one.fmt, len(one.rows), inserted))
            if on_file is not None:
                on_file(summaries[-1])
    return summaries


def insert_rows(conn: Any, rows: Iterable[RawRow]) -> int:
    """COPY into a temp table, then INSERT … ON CONFLICT DO NOTHING; returns rows inserted."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE incoming (LIKE market_events INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        with cur.copy(f"COPY incoming ({COLUMNS}) FROM STDIN") as copy:
            for ts, recv, source, p in rows:
                token = p.get("token_id")
                slug = p.get("slug")
                copy.write_row((_dt(ts), _dt(recv), source, p["kind"], p.get("asset"), slug,
                                token, json.dumps(p, separators=(",", ":")),
                                dedup_key(source, p)))  # fmt: skip
        cur.execute(
            f"INSERT INTO market_events ({COLUMNS}) SELECT {COLUMNS} FROM incoming ORDER BY ts "
            "ON CONFLICT (source, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING"
        )
        inserted = cur.rowcount
        cur.execute("DROP TABLE incoming")  # several files in one transaction: one at a time
        return inserted


def upsert_windows(conn: Any, rows: Iterable[RawRow]) -> None:
    """The `windows` table from window lines (latest wins) and resolved lines."""
    latest: dict[str, dict[str, Any]] = {}
    winners: dict[str, str] = {}
    for _, _, _, p in rows:
        if p["kind"] == "window":
            latest[p["slug"]] = p
        elif p["kind"] == "resolved":
            winners[p["slug"]] = p["winner"].upper()
    with conn.transaction():
        for w in latest.values():
            conn.execute(
                "INSERT INTO windows (slug, asset, length_s, open_ts, close_ts, condition_id,"
                " token_up, token_down, tick_size, min_size, fee_rate, settlement_rule, strike)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (slug, venue) DO UPDATE"
                " SET strike = coalesce(EXCLUDED.strike, windows.strike),"
                " token_up = EXCLUDED.token_up, token_down = EXCLUDED.token_down",
                (w["slug"], w["asset"].upper(), w["length_s"], _dt(w["open_ts"]),
                 _dt(w["close_ts"]), w["condition_id"], w["token_up"], w["token_down"],
                 w["tick_size"], w["min_size"], w["fee_rate"], w["settlement_rule"].lower(),
                 w.get("strike")),
            )  # fmt: skip
        for slug, winner in winners.items():
            conn.execute(
                "UPDATE windows SET winner = %s, status = 'RESOLVED' WHERE slug = %s",
                (winner, slug),
            )


def fetch_events(conn: Any, lo: int, hi: int, *, use_cache: bool = True) -> list[EventRow]:
    """`fetch_rows` with each payload built into its event, cached as Parquet (research.cache)
    under a key of the range and the table's row count and last id."""
    if not use_cache:
        return cache.parsed(fetch_rows(conn, lo, hi))
    state = conn.execute("SELECT count(*), coalesce(max(id), 0) FROM market_events").fetchone()
    key = cache.key_of("db", conn.info.dbname, lo, hi, *state)
    rows = cache.read(key)
    if rows is None:
        rows = cache.parsed(fetch_rows(conn, lo, hi))
        cache.write(key, rows)
    return rows


def fetch_rows(conn: Any, lo: int, hi: int) -> list[RawRow]:
    """Market rows for windows in [lo, hi): window lines listed up to a day before, the rest
    from lo to a few minutes after hi (resolutions and settlement ticks); not cached."""
    day = 86_400_000
    rows = conn.execute(
        "SELECT ts, recv_ts, source, payload FROM market_events WHERE kind = ANY(%s) AND"
        " ((kind = 'window' AND ts >= %s AND ts < %s) OR (ts >= %s AND ts < %s)) ORDER BY ts, id",
        (list(MARKET_KINDS), _dt(lo - day), _dt(hi), _dt(lo), _dt(hi + 300_000)),
    ).fetchall()
    return [(_ms(ts), None if r is None else _ms(r), src, p) for ts, r, src, p in rows]


def recorded_gaps(conn: Any, lo: int, hi: int) -> list[Gap]:
    """Gaps the runner's watchdog recorded in `feed_gaps` overlapping [lo, hi)."""
    rows = conn.execute(
        "SELECT feed, asset, start_ts, coalesce(end_ts, %s), reason FROM feed_gaps"
        " WHERE start_ts < %s AND (end_ts IS NULL OR end_ts > %s)",
        (_dt(hi), _dt(hi), _dt(lo)),
    ).fetchall()
    return [
        Gap(f"{feed}:{asset or ''}", _ms(s), _ms(e), reason) for feed, asset, s, e, reason in rows
    ]


def export(conn: Any, lo: int, hi: int, output: Path, assets: Iterable[str] | None = None) -> int:
    """Write the range's market events as a journal (gz if the name ends in .gz)."""
    from live.convert.common import write_journal

    wanted = {a.upper() for a in assets} if assets else None
    rows = fetch_rows(conn, lo, hi)
    events = (p for _, _, _, p in rows if wanted is None or _asset_of(p) in wanted | {None})
    return write_journal(events, output)


def _asset_of(payload: dict[str, Any]) -> str | None:
    asset = payload.get("asset")
    if asset is None and isinstance(payload.get("slug"), str):
        asset = payload["slug"].split("-", 1)[0]
    return None if asset is None else str(asset).upper()


def listing(conn: Any) -> dict[str, Any]:
    """Days with their assets, windows, feeds (rows per source) and gaps (> GAP_MS, per feed)."""
    days = conn.execute(
        "SELECT (ts AT TIME ZONE 'UTC')::date AS day, source, count(*),"
        " array_agg(DISTINCT upper(asset)) FILTER (WHERE asset IS NOT NULL)"
        " FROM market_events GROUP BY day, source ORDER BY day, source"
    ).fetchall()
    windows = conn.execute(
        "SELECT (open_ts AT TIME ZONE 'UTC')::date, asset, count(*),"
        " count(*) FILTER (WHERE winner IS NOT NULL) FROM windows GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    gaps = conn.execute(
        "SELECT day, source, count(*), max(gap_ms) FROM (SELECT (ts AT TIME ZONE 'UTC')::date"
        " AS day, source, extract(epoch FROM ts - lag(ts) OVER (PARTITION BY source, asset"
        " ORDER BY ts)) * 1000 AS gap_ms FROM market_events WHERE kind = 'oracle') g"
        " WHERE gap_ms > %s GROUP BY day, source ORDER BY day, source",
        (GAP_MS,),
    ).fetchall()
    recorded = conn.execute("SELECT count(*) FROM feed_gaps").fetchone()[0]
    return {"feeds": days, "windows": windows, "gaps": gaps, "recorded_gaps": recorded}
