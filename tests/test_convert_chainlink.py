"""Chainlink ticks → oracle events, and the `updown convert` command's contract on bad input."""

from __future__ import annotations

import gzip
import json

from typer.testing import CliRunner

from live.convert import chainlink, convert_to_journal
from live.convert.common import ConvertError
from live.journal.reader import read_journal
from live.kernel.events import OracleTick
from updown.cli import app

HEADER = "feed_ts_ms,value,full_accuracy_value,server_ts_ms,recv_ms\n"


def test_real_day_converts_to_exact_oracle_prices(shared_data, tmp_path):
    out = tmp_path / "oracle.jsonl.gz"
    summary = convert_to_journal(
        "chainlink", shared_data / "chainlink_btcusd_2026-06-08.csv.gz", out
    )
    assert summary.kinds == {"oracle": 84558}
    with gzip.open(out, "rt") as stream:
        first = json.loads(stream.readline())
    assert first == {
        "ts": 1780876800000,
        "kind": "oracle",
        "asset": "BTC",
        "price": "63304.200301195075",
        "source": "chainlink",
        "recv_ts": 1780876801156,
    }
    events = list(read_journal([out]))
    assert len(events) == 84558 and all(isinstance(e, OracleTick) for e in events)


def test_price_is_full_accuracy_value_scaled_exactly(tmp_path):
    src = tmp_path / "ticks.csv"
    src.write_text(HEADER + "1000,1.0,1000000000000000001,1001,1002\n")
    (event,) = chainlink.convert(src, asset="eth")
    assert event["price"] == "1.000000000000000001" and event["asset"] == "ETH"


def test_bad_value_names_file_line_and_field(tmp_path):
    src = tmp_path / "ticks.csv"
    src.write_text(HEADER + "1000,1.0,1000000000000000000,1001,1002\n2000,1.0,abc,2001,2002\n")
    try:
        chainlink.convert(src)
    except ConvertError as exc:
        assert (exc.line, exc.field) == (3, "full_accuracy_value")
        assert str(exc).startswith(f"{src}:3: field 'full_accuracy_value'")
    else:
        raise AssertionError("expected ConvertError")


def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    src = tmp_path / "ticks.csv"
    src.write_text(HEADER + "1000,1.0,1000000000000000000,1001,1002\nx,1.0,1,2,3\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["convert", "chainlink", str(src), "-o", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [f"error: {src}:3: field 'feed_ts_ms': not an integer: 'x'"]
    assert list(tmp_path.iterdir()) == [src]


def test_cli_failure_leaves_an_existing_output_untouched(tmp_path):
    src = tmp_path / "ticks.csv"
    src.write_text(HEADER + "oops\n")
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    result = CliRunner().invoke(app, ["convert", "chainlink", str(src), "-o", str(out)])
    assert result.exit_code == 2
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "ticks.csv"]


def test_cli_writes_plain_or_gzip_by_suffix(tmp_path):
    src = tmp_path / "ticks.csv"
    src.write_text(HEADER + "1000,1.5,1500000000000000000,1001,1002\n")
    for name in ("out.jsonl", "out.jsonl.gz"):
        result = CliRunner().invoke(
            app, ["convert", "chainlink", str(src), "-o", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        assert "wrote 1 events" in result.output
        (event,) = read_journal([tmp_path / name])
        assert str(event.price) == "1.5"
