"""No traceback for any journal line or file: lines generated from real journal lines (the real
top-of-book and Chainlink days and the Gamma markets file, converted) and one line of every kind,
with fields replaced, removed and added, and arbitrary text. Each line is an event or a
JournalError naming the line and field; a file is read whole or refused at its first bad line
(or, with skip_invalid, its bad lines are counted). An event written back parses to itself.
Budgets: tests/fuzz_kit.py."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from fuzz_kit import JSON, SHARED_DATA, deep_mutated, fuzz, mutated, tally
from hypothesis import example, given
from hypothesis import strategies as st

from live.convert import convert_events
from live.journal.codec import KINDS, JournalError, parse_line, to_json
from live.journal.reader import read_journal

HAND = [  # one line of every kind, as the codec documents them
    {"ts": 1, "kind": "window", "slug": "btc-updown-5m-1", "asset": "BTC", "length_s": 300,
     "open_ts": 1000, "close_ts": 301000, "condition_id": "0xc", "token_up": "U",
     "token_down": "D", "tick_size": "0.01", "min_size": "5", "fee_rate": "0.07",
     "settlement_rule": "spot_at_close", "strike": "100000.5"},
    {"ts": 2, "kind": "book", "token_id": "U", "bids": [["0.4", "10"]], "asks": [["0.6", "3"]]},
    {"ts": 3, "kind": "book_delta", "token_id": "U", "side": "bid", "price": "0.41", "size": "2"},
    {"ts": 4, "kind": "trade", "token_id": "U", "price": "0.5", "size": "1", "side": "BUY"},
    {"ts": 5, "kind": "oracle", "asset": "BTC", "price": "100000", "source": "chainlink"},
    {"ts": 6, "kind": "resolved", "slug": "btc-updown-5m-1", "winner": "UP"},
    {"ts": 7, "kind": "control", "key": "kill_switch", "value": "pause"},
    {"ts": 8, "kind": "signal", "slug": "btc-updown-5m-1", "side": "UP", "usd": "5",
     "max_price": "0.6", "stop_loss": "0.2", "strategy": "canary", "signal_id": "s1"},
    {"ts": 9, "kind": "order_ack", "client_order_id": "c1", "venue_order_id": "v1"},
    {"ts": 10, "kind": "order_reject", "client_order_id": "c1", "reason": "no"},
    {"ts": 11, "kind": "order_fill", "client_order_id": "c1", "fill_id": "f1", "price": "0.5",
     "shares": "10", "fee": "0.1", "status": "MATCHED", "intended_price": "0.49"},
    {"ts": 12, "kind": "order_cancel", "client_order_id": "c1", "reason": "x"},
    {"ts": 13, "kind": "order_unknown", "client_order_id": "c1", "reason": "timeout"},
    {"ts": 14, "kind": "balance", "usd": "100.5"},
    {"ts": 15, "kind": "venue_positions", "positions": [["U", "10"], ["D", "0"]]},
    {"ts": 16, "kind": "timer"},
]  # fmt: skip


def _real_lines() -> list[dict]:
    """The first lines of each real public file, converted to journal lines."""
    out: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, name, lines in (
            ("top-of-book", "btc_15m_top_of_book_1s_2025-12-26.csv.gz", 40),
            ("chainlink", "chainlink_btcusd_2026-06-08.csv.gz", 20),
            ("gamma-markets", "gamma_btc_5m_markets_2026-06-08.jsonl.gz", 3),
        ):
            with gzip.open(SHARED_DATA / name, "rt") as src:
                head = [next(src) for _ in range(lines)]
            part = Path(tmp) / name.removesuffix(".gz")
            part.write_text("".join(head))
            events, _ = convert_events(fmt, part, fee_rate="0.07")
            out.extend(events[:15])
    return out


SEEDS = HAND + _real_lines()
LINE = st.one_of(
    st.sampled_from(SEEDS),
    st.sampled_from(SEEDS).flatmap(mutated),
    st.sampled_from(SEEDS).flatmap(deep_mutated),
    st.sampled_from(SEEDS).flatmap(lambda s: mutated(s, st.sampled_from(KINDS))),
    JSON,
)
TEXT = st.one_of(
    LINE.map(json.dumps),
    LINE.map(lambda o: json.dumps(o)[: len(json.dumps(o)) // 2]),  # a line cut short
    st.text(max_size=60),
    st.sampled_from(["", "{", "[]", "null", "1e999", '{"ts": 1e400, "kind": "timer"}',
                     '{"ts": 1, "kind": "timer", "ts": -1}', "\ufeff{}", '"\\ud800"']),
)  # fmt: skip


@fuzz(sample=300, campaign=30_000)
@given(text=TEXT)
@example('{"ts": 1, "kind": []}')  # crashed: TypeError, unhashable kind (fixed)
@example(
    '{"ts": 1, "kind": "book_delta", "token_id": "U", "side": [], "price": "0.5", "size": "1"}'
)
@example('{"ts": 1, "kind": "oracle", "asset": "BTC", "price": "1", "source": {"a": 1}}')
@example('{"ts": 1, "kind": "signal", "slug": "s", "side": "UP", "usd": "1", "strategy": [1]}')
def test_a_line_is_an_event_or_a_journal_error_naming_it(text):
    tally("journal line")
    try:
        event = parse_line(text, 7, "fuzz.jsonl")
    except JournalError as exc:
        assert exc.lineno == 7 and exc.source == "fuzz.jsonl" and exc.reason
        assert str(exc).startswith("fuzz.jsonl:line 7")
    else:
        assert parse_line(to_json(event)) == event  # written back, it reads the same


@fuzz(sample=40, campaign=4_000)
@given(lines=st.lists(TEXT, min_size=1, max_size=6), gz=st.booleans(), skip=st.booleans())
def test_a_file_is_read_whole_or_refused_at_its_bad_line(lines, gz, skip):
    tally("journal file")
    body = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("j.jsonl.gz" if gz else "j.jsonl")
        if gz:
            with gzip.open(path, "wt", encoding="utf-8", errors="surrogatepass") as out:
                out.write(body)
        else:
            path.write_bytes(body.encode("utf-8", "surrogatepass"))
        reader = read_journal([path], skip_invalid=skip)
        try:
            events = list(reader)
        except JournalError as exc:
            assert not skip and exc.source == str(path) and exc.lineno >= 1
        else:
            assert len(events) + reader.skipped <= len(lines)
            assert all(b.ts >= a.ts for a, b in zip(events, events[1:], strict=False))
