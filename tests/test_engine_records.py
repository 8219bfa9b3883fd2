"""Every record type the engine emits maps 1:1 onto its table's columns in the migrations."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from live.kernel import records
from live.kernel.domain import Asset
from live.kernel.limits import KNOWN_ASSETS

MIGRATIONS = Path(__file__).resolve().parents[1] / "live" / "store" / "migrations"
_CONSTRAINT_WORDS = {"CHECK", "CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN"}


def _table_columns() -> dict[str, set[str]]:
    text = "\n".join(p.read_text() for p in sorted(MIGRATIONS.glob("*.sql")))
    tables: dict[str, set[str]] = {}
    for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", text, re.S):
        cols = set()
        for line in body.splitlines():
            match = re.match(r"\s{4}(\w+)\s", line)
            if match and match.group(1).upper() not in _CONSTRAINT_WORDS:
                cols.add(match.group(1))
        tables[name] = cols
    for table, col in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", text):
        tables[table].add(col)
    return tables


@pytest.mark.parametrize("record_type", list(records.TABLE), ids=lambda t: t.__name__)
def test_record_fields_are_the_table_columns(record_type: type) -> None:
    table = records.TABLE[record_type]
    columns = _table_columns()[table] - {"id"}
    assert {f.name for f in fields(record_type)} == columns


def test_domain_assets_are_the_known_assets() -> None:
    assert tuple(a.value for a in Asset) == KNOWN_ASSETS
